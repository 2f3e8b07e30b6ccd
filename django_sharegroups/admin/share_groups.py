"""Admin of the cluster's share groups, read from the broker, plus their audit log.

The "Share groups" section belongs to the table-less :class:`~..models.ShareGroup`: its pages
ask the broker through the share-group admin client (no rows are stored). Resetting offsets,
changing configs and deleting need the model's dedicated permissions, and run through
:mod:`..admin_tools.actions`, which writes the audit log shown read-only below.
"""

from __future__ import annotations

import json
from html import unescape
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminRadioSelect
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, strip_tags

from ..admin_tools import actions, serialize
from ..admin_tools.client import open_admin
from ..admin_tools.overview import (
    config_source_label,
    format_assignment,
    format_host,
    load_overview,
    reset_rows,
    summarize,
)
from ..admin_tools.targets import parse_offsets, parse_topics
from ..exceptions import ConfigurationError
from ..kafka import ConfigEntry, KafkaError
from ..kafka.errors import GroupIdNotFoundError
from ..models import ShareGroup, ShareGroupAuditEntry
from .links import CHANGELISTS, changelist_url
from .view_only import ViewOnlyAdmin

ADMIN_ERRORS = (ConfigurationError, KafkaError)
"""What the pages show as an error box instead of a server error: no Kafka configured, the
broker unreachable, or the broker's refusal (with its error name and message)."""

RESTORE_SUFFIX = ":restore"

LINK_LABELS = {
    "leases": "Leases (records in flight)",
    "dead_letters": "Dead letters",
    "archived": "Archived records",
    "processed": "Processed records",
    "processes": "Consumer processes",
}
"""Labels of the mirrored-state changelists :mod:`.links` knows, by its link names."""


class ResetOffsetsForm(forms.Form):
    """Where to move the SPSO: earliest, latest, a point in time or explicit offsets."""

    to = forms.ChoiceField(
        label="Reset to",
        choices=[
            ("earliest", "Earliest offset: deliver everything still in the log again"),
            ("latest", "Latest offset: skip every record not yet delivered"),
            ("datetime", "Date and time: the first record at or after it"),
            ("offsets", "Explicit offsets"),
        ],
        initial="earliest",
        widget=AdminRadioSelect(attrs={"class": "radiolist"}),
    )
    moment = forms.DateTimeField(
        label="Date and time",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=f"Time zone {settings.TIME_ZONE}.",
    )
    offsets = forms.CharField(
        label="Offsets",
        required=False,
        widget=forms.TextInput(attrs={"size": 60, "placeholder": "orders:0=42, orders:1=40"}),
        help_text="topic:partition=offset, comma-separated.",
    )
    topics = forms.CharField(
        label="Only topics",
        required=False,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Comma-separated; empty for every partition the group knows. Naming a topic "
        "also covers partitions the group has not started on.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        choice = data.get("to")
        if choice == "datetime":
            if data.get("moment") is None:
                self.add_error("moment", "Give the date and time to reset to.")
            data["target"] = data.get("moment")
        elif choice == "offsets":
            try:
                data["target"] = parse_offsets(data.get("offsets") or "")
            except ValueError as error:
                self.add_error("offsets", str(error))
        else:
            data["target"] = choice
        data["topic_list"] = parse_topics(data.get("topics") or None)
        return data


class ShareGroupConfigForm(forms.Form):
    """One text field per group config, plus "restore default" for values set on the group."""

    def __init__(self, *args: Any, configs: dict[str, ConfigEntry], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configs = configs
        for name, entry in configs.items():
            self.fields[name] = forms.CharField(
                label=name,
                required=False,
                initial=entry.value or "",
                disabled=entry.read_only or entry.sensitive,
                help_text=_plain(entry.documentation),
                widget=forms.TextInput(attrs={"size": 30}),
            )
            if not entry.is_default:
                self.fields[name + RESTORE_SUFFIX] = forms.BooleanField(
                    label="restore default", required=False
                )

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "entry": entry,
                "source": config_source_label(entry.source),
                "field": self[name],
                "restore": self[name + RESTORE_SUFFIX]
                if name + RESTORE_SUFFIX in self.fields
                else None,
            }
            for name, entry in self.configs.items()
        ]

    def changes(self) -> dict[str, str | None]:
        """Values that differ from the broker's, and ``None`` for "restore default"."""
        changes: dict[str, str | None] = {}
        for name, entry in self.configs.items():
            if self.cleaned_data.get(name + RESTORE_SUFFIX):
                changes[name] = None
            elif name in self.cleaned_data and self.cleaned_data[name] != (entry.value or ""):
                changes[name] = self.cleaned_data[name]
        return changes


@admin.register(ShareGroup)
class ShareGroupModelAdmin(ViewOnlyAdmin):
    """List, describe, reset, configure and delete share groups on the broker.

    Every view is replaced: there is no table behind the model, so no page may query it.
    Staff need ``view_sharegroup`` for the section; the actions need
    ``reset_share_group_offsets``, ``change_share_group_config`` or ``delete_share_group``
    on top (a request without it gets 403, and the page does not offer the action).
    """

    list_per_page = 50

    # -- permissions ---------------------------------------------------------------------

    # Django's own add/change/delete are off (ViewOnlyAdmin); deleting a group is
    # delete_share_group below.

    def _has(self, request: HttpRequest, codename: str) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    def has_reset_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "reset_share_group_offsets")

    def has_config_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "change_share_group_config")

    def has_delete_group_permission(self, request: HttpRequest) -> bool:
        return self._has(request, "delete_share_group")

    # -- urls and rendering --------------------------------------------------------------

    def get_urls(self) -> list:
        """The group name comes last so that any name (even one with ``/``) fits."""
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_view), name=f"{prefix}_changelist"),
            path("view/<path:group_id>/", wrap(self.detail_view), name=f"{prefix}_detail"),
            path("reset/<path:group_id>/", wrap(self.reset_view), name=f"{prefix}_reset"),
            path("config/<path:group_id>/", wrap(self.config_view), name=f"{prefix}_config"),
            path("delete/<path:group_id>/", wrap(self.delete_view), name=f"{prefix}_delete"),
        ]

    def _url(self, name: str, group_id: str | None = None) -> str:
        args = [group_id] if group_id is not None else []
        return reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{name}",
            args=args,
        )

    def _render(
        self, request: HttpRequest, template: str, context: dict[str, Any]
    ) -> TemplateResponse:
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            f"admin/{self.opts.app_label}/{self.opts.model_name}/{template}",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "app_label": self.opts.app_label,
                "changelist_url": self._url("changelist"),
                **context,
            },
        )

    def _group_context(self, request: HttpRequest, group_id: str) -> dict[str, Any]:
        return {
            "group_id": group_id,
            "detail_url": self._url("detail", group_id),
            "reset_url": self._url("reset", group_id),
            "config_url": self._url("config", group_id),
            "delete_url": self._url("delete", group_id),
            "can_reset": self.has_reset_permission(request),
            "can_configure": self.has_config_permission(request),
            "can_delete": self.has_delete_group_permission(request),
        }

    def _gone(self, request: HttpRequest, group_id: str) -> HttpResponseRedirect:
        """Like the admin for a deleted object: back to the list with a message."""
        messages.warning(
            request,
            f"There is no share group “{group_id}” on the cluster. Perhaps it was deleted.",
        )
        return HttpResponseRedirect(self._url("changelist"))

    # -- pages ---------------------------------------------------------------------------

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require(request)
        query = request.GET.get("q", "").strip()
        context: dict[str, Any] = {
            "title": "Share groups",
            "query": query,
            "rows": [],
            "page": None,
        }
        try:
            with open_admin() as client:
                listings = client.list_share_groups()
                if query:
                    listings = [item for item in listings if query.lower() in item.group_id.lower()]
                page = Paginator(listings, self.list_per_page).get_page(request.GET.get("p"))
                summaries = summarize(client, page.object_list)
        except ADMIN_ERRORS as error:
            context["error"] = serialize.error_data(error)
        else:
            context["page"] = page
            context["rows"] = [
                {"summary": summary, "url": self._url("detail", summary.group_id)}
                for summary in summaries
            ]
        return self._render(request, "list.html", {**context, **(extra_context or {})})

    def detail_view(self, request: HttpRequest, group_id: str) -> HttpResponse:
        self._require(request)
        context = self._group_context(request, group_id)
        context["title"] = f"Share group “{group_id}”"
        try:
            with open_admin() as client:
                overview = load_overview(client, group_id)
        except GroupIdNotFoundError:
            return self._gone(request, group_id)
        except ADMIN_ERRORS as error:
            context["error"] = serialize.error_data(error)
            return self._render(request, "detail.html", context)
        context["overview"] = overview
        context["members"] = [
            {
                "member": member,
                "host": format_host(member.client_host),
                "subscribed": ", ".join(member.subscribed_topic_names),
                "assignment": format_assignment(member.assignment),
            }
            for member in overview.description.members
        ]
        context["configs"] = [
            {"entry": entry, "source": config_source_label(entry.source)}
            for entry in (overview.configs or {}).values()
        ]
        context["dead_letter_queue"] = dead_letter_queue_fields(overview.configs or {})
        context["related"] = self._related_links(request, group_id)
        return self._render(request, "detail.html", context)

    def reset_view(self, request: HttpRequest, group_id: str) -> HttpResponse:
        """Preview (a dry run) first; the confirmation resubmits the same target."""
        self._require(request, self.has_reset_permission(request))
        context = self._group_context(request, group_id)
        context["title"] = f"Reset offsets of share group “{group_id}”"
        form = ResetOffsetsForm(request.POST if request.method == "POST" else None)
        context["form"] = form
        try:
            with open_admin() as client:
                context["description"] = client.describe_share_group(group_id)
                if request.method == "POST" and form.is_valid():
                    target = form.cleaned_data["target"]
                    topics = form.cleaned_data["topic_list"]
                    if "_confirm" in request.POST:
                        result = actions.reset_offsets(
                            client,
                            group_id,
                            target,
                            topics=topics,
                            actor=actions.Actor.from_request(request),
                        )
                        messages.success(
                            request,
                            f"Reset the start offset of {len(result.partitions)} partition(s) "
                            f"of share group “{group_id}”.",
                        )
                        return HttpResponseRedirect(context["detail_url"])
                    current = client.share_group_offsets(group_id)
                    plan = actions.reset_offsets(
                        client,
                        group_id,
                        target,
                        topics=topics,
                        actor=actions.Actor.from_request(request),
                        dry_run=True,
                    )
                    context["plan"] = plan
                    context["plan_rows"] = reset_rows(plan, current)
        except GroupIdNotFoundError:
            return self._gone(request, group_id)
        except ADMIN_ERRORS as error:
            context["error"] = serialize.error_data(error)
        return self._render(request, "reset_offsets.html", context)

    def config_view(self, request: HttpRequest, group_id: str) -> HttpResponse:
        self._require(request, self.has_config_permission(request))
        context = self._group_context(request, group_id)
        context["title"] = f"Configs of share group “{group_id}”"
        try:
            with open_admin() as client:
                configs = client.describe_share_group_config(group_id)
                form = ShareGroupConfigForm(
                    request.POST if request.method == "POST" else None, configs=configs
                )
                context["form"] = form
                if request.method == "POST" and form.is_valid():
                    changes = form.changes()
                    if not changes:
                        messages.info(request, "No config changed.")
                        return HttpResponseRedirect(context["detail_url"])
                    actions.alter_config(
                        client, group_id, changes, actor=actions.Actor.from_request(request)
                    )
                    messages.success(
                        request,
                        f"Changed {', '.join(sorted(changes))} of share group “{group_id}”.",
                    )
                    return HttpResponseRedirect(context["detail_url"])
        except ADMIN_ERRORS as error:
            context["error"] = serialize.error_data(error)
        return self._render(request, "config.html", context)

    def delete_view(
        self, request: HttpRequest, group_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require(request, self.has_delete_group_permission(request))
        context = self._group_context(request, group_id)
        context["title"] = f"Delete share group “{group_id}”"
        try:
            with open_admin() as client:
                context["description"] = client.describe_share_group(group_id)
                if request.method == "POST":
                    actions.delete_group(
                        client, group_id, actor=actions.Actor.from_request(request)
                    )
                    messages.success(request, f"Deleted share group “{group_id}”.")
                    return HttpResponseRedirect(self._url("changelist"))
        except GroupIdNotFoundError:
            return self._gone(request, group_id)
        except ADMIN_ERRORS as error:
            context["error"] = serialize.error_data(error)
        return self._render(request, "delete.html", context)

    def _related_links(self, request: HttpRequest, group_id: str) -> list[dict[str, str]]:
        """The group's mirrored state and audit log, as changelists the user may open."""
        targets = [
            (LINK_LABELS.get(name, name), model_name) for name, model_name in CHANGELISTS.items()
        ]
        targets.append(("Audit log", str(ShareGroupAuditEntry._meta.model_name)))
        links = []
        for label, model_name in targets:
            if not self._has(request, f"view_{model_name}"):
                continue
            try:
                url = changelist_url(model_name, group_id, self.admin_site.name)
            except NoReverseMatch:  # the model is not registered on this admin site
                continue
            links.append({"label": label, "url": url})
        if self._has(request, "view_throughputminute"):
            try:
                url = reverse(
                    f"{self.admin_site.name}:django_sharegroups_throughputminute_group",
                    args=[group_id],
                )
            except NoReverseMatch:
                return links
            links.insert(
                0, {"label": "Dashboard (throughput, leases, delivery counts)", "url": url}
            )
        return links


def dead_letter_queue_fields(configs: dict[str, ConfigEntry]) -> dict[str, Any] | None:
    """The broker-side DLQ (KIP-1191) as named fields; None when the broker has no such
    configs (before Kafka 4.4)."""
    from ..broker_dlq.settings import COPY_RECORD, TOPIC_NAME

    topic = configs.get(TOPIC_NAME)
    if topic is None:
        return None
    copy = configs.get(COPY_RECORD)
    return {"topic": topic.value or None, "copy_record": copy is not None and copy.value == "true"}


def _plain(documentation: str | None) -> str:
    """Kafka's config documentation is HTML (lists for enums); the help text is plain."""
    text = (documentation or "").replace("</li>", "; ").replace("<li>", " ")
    return " ".join(unescape(strip_tags(text)).split()).replace("; .", ".").rstrip("; ")


def _pretty_json(value: Any) -> str:
    if value in (None, {}, []):
        return "—"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


@admin.register(ShareGroupAuditEntry)
class ShareGroupAuditEntryAdmin(ViewOnlyAdmin):
    """Read-only for everyone: an audit log nobody can edit through the admin."""

    list_display = (
        "created_at",
        "action",
        "share_group",
        "actor",
        "source",
        "outcome",
        "error_name",
    )
    list_filter = ("action", "outcome", "source")
    search_fields = ("share_group", "actor", "error_name")
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "action",
        "share_group",
        "outcome",
        "error_name",
        "error_message",
        "actor",
        "user",
        "source",
        "parameters_display",
        "before_display",
        "after_display",
    )
    readonly_fields = fields

    @admin.display(description="parameters")
    def parameters_display(self, entry: ShareGroupAuditEntry) -> str:
        return _pretty_json(entry.parameters)

    @admin.display(description="before")
    def before_display(self, entry: ShareGroupAuditEntry) -> str:
        return _pretty_json(entry.before)

    @admin.display(description="after")
    def after_display(self, entry: ShareGroupAuditEntry) -> str:
        return _pretty_json(entry.after)
