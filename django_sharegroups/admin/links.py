"""Admin changelist URLs filtered to one share group, for pages that link to its state.

The share-group admin page (issue 6) links here::

    from django_sharegroups.admin.links import share_group_links

    share_group_links("webhooks")
    # {"leases": "/admin/django_sharegroups/lease/?share_group=webhooks", "dead_letters": ...,
    #  "archived": ..., "processed": ..., "processes": ".../consumerprocess/?share_group=webhooks"}
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

#: Link name → model (admin URL name part).
CHANGELISTS = {
    "leases": "lease",
    "dead_letters": "deadletter",
    "archived": "archivedrecord",
    "processed": "processedrecord",
    "processes": "consumerprocess",
}


def changelist_url(model_name: str, share_group: str, site_name: str = "admin") -> str:
    """The changelist of ``model_name`` showing only ``share_group``'s rows."""
    url = reverse(f"{site_name}:django_sharegroups_{model_name}_changelist")
    return f"{url}?{urlencode({'share_group': share_group})}"


def share_group_links(share_group: str, site_name: str = "admin") -> dict[str, str]:
    """Every filtered changelist of ``share_group`` (leases, DLQ, archive, ...), by name."""
    return {
        name: changelist_url(model_name, share_group, site_name)
        for name, model_name in CHANGELISTS.items()
    }
