"""A ModelAdmin whose rows nobody adds, edits or deletes through Django's own views: what it
shows is owned by the broker or the runtime (share groups, the audit log, rollups)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


class ViewOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _require(self, request: HttpRequest, *checks: bool) -> None:
        """For the admin's own views: the model's view permission and every extra check."""
        if not (self.has_view_permission(request) and all(checks)):
            raise PermissionDenied
