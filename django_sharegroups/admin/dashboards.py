"""Dashboards: an overview of every share group and a page per group, charts as inline SVG.

They hang off the per-minute rollup model (:class:`~..models.ThroughputMinute`), whose admin
entry ("Share-group dashboards") opens the overview. Throughput comes from the rollups, lag
and SPSO from the broker, the rest from the mirrored models (see ``dashboard_data``). Seeing
a dashboard needs ``view_throughputminute`` and ``view_sharegroup``; each panel of another
mirrored model also needs that model's view permission. ``?window=1h`` picks the time range,
``?refresh=10`` reloads the page every 10 s (a meta refresh, no JavaScript).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..admin_tools import serialize
from ..admin_tools.client import open_admin
from ..admin_tools.overview import format_host, load_overview, summarize
from ..kafka.errors import GroupIdNotFoundError
from ..models import ThroughputMinute
from . import dashboard_data as data
from .charts import BarChart, LineChart, Series
from .share_groups import ADMIN_ERRORS
from .view_only import ViewOnlyAdmin

#: Rollup column → its label in charts and tables.
OUTCOMES = {
    "accepted": gettext_lazy("accepted"),
    "released": gettext_lazy("released"),
    "rejected": gettext_lazy("rejected"),
    "archived": gettext_lazy("archived"),
    "dead_lettered": gettext_lazy("dead-lettered"),
}


def throughput_chart(throughput: data.Throughput, title: str) -> str:
    per = (
        _("per minute")
        if throughput.bucket_minutes == 1
        else _("per %(n)d minutes") % {"n": throughput.bucket_minutes}
    )
    return LineChart(
        f"{title} ({per})",
        description=_("Records settled %(per)s by outcome: %(totals)s.")
        % {
            "per": per,
            "totals": ", ".join(f"{OUTCOMES[c]} {n}" for c, n in throughput.totals.items()),
        },
        labels=throughput.labels,
        series=[Series(str(OUTCOMES[c]), v) for c, v in throughput.columns.items()],
    ).render()


@admin.register(ThroughputMinute)
class DashboardAdmin(ViewOnlyAdmin):
    """Replaces the rollup model's changelist with the overview; rows are never edited."""

    def _may(self, request: HttpRequest, model_name: str) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.view_{model_name}")

    def get_urls(self) -> list:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_view), name=f"{prefix}_changelist"),
            path("group/<path:group_id>/", wrap(self.group_view), name=f"{prefix}_group"),
        ]

    def _url(self, name: str, *args: Any) -> str:
        site = self.admin_site.name
        return reverse(f"{site}:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)

    def _admin_url(self, model_name: str, name: str, *args: Any) -> str | None:
        try:
            return reverse(
                f"{self.admin_site.name}:{self.opts.app_label}_{model_name}_{name}", args=args
            )
        except NoReverseMatch:  # not registered on this site
            return None

    def _common(self, request: HttpRequest) -> dict[str, Any]:
        window, minutes = data.parse_window(request.GET.get("window"))
        refresh = data.parse_refresh(request.GET.get("refresh"))
        extra = {"refresh": refresh} if refresh else {}
        return {
            "window": window,
            "minutes": minutes,
            "refresh": refresh,
            "windows": [
                {"key": key, "query": urlencode({"window": key, **extra}), "current": key == window}
                for key in data.WINDOWS
            ],
            "refresh_query": urlencode({"window": window, "refresh": refresh or 10}),
            "still_query": urlencode({"window": window}),
            "now": timezone.now(),
        }

    def _render(self, request: HttpRequest, template: str, context: dict[str, Any]):
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            f"admin/{self.opts.app_label}/dashboard/{template}",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "app_label": self.opts.app_label,
                "overview_url": self._url("changelist"),
                "outcomes": OUTCOMES,
                **context,
            },
        )

    def _processes(self, request: HttpRequest, group_id: str | None) -> list | None:
        if not self._may(request, "consumerprocess"):
            return None
        max_age = timedelta(seconds=_stale_after())
        now = timezone.now()
        return [
            {
                "process": process,
                "heartbeat_age": max(0.0, (now - process.last_heartbeat).total_seconds()),
                "stale": process.is_stale(max_age),
                "url": self._admin_url("consumerprocess", "change", process.pk),
            }
            for process in data.processes(group_id)
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require(request, self._may(request, "sharegroup"))
        context = self._common(request)
        minutes = context["minutes"]
        throughput = data.throughput(minutes)
        by_group = data.totals_by_group(minutes)
        summaries: dict[str, Any] = {}
        try:
            with open_admin() as client:
                summaries = {s.group_id: s for s in summarize(client, client.list_share_groups())}
        except ADMIN_ERRORS as error:
            context["error"] = serialize.error_data(error)
        # Busy groups first, then groups with members, then the rest by name.
        names = sorted(
            {*summaries, *by_group},
            key=lambda name: (
                -sum(by_group.get(name, {}).values()),
                -(getattr(summaries.get(name), "members", None) or 0),
                name,
            ),
        )
        context.update(
            title=_("Share-group dashboards"),
            chart=throughput_chart(throughput, _("All share groups")),
            throughput=throughput,
            groups=[
                {
                    "name": name,
                    "url": self._url("group", name),
                    "summary": summaries.get(name),
                    "totals": by_group.get(name, dict.fromkeys(OUTCOMES, 0)),
                }
                for name in names
            ],
            processes=self._processes(request, None),
        )
        return self._render(request, "overview.html", {**context, **(extra_context or {})})

    def group_view(self, request: HttpRequest, group_id: str) -> HttpResponse:
        self._require(request, self._may(request, "sharegroup"))
        context = self._common(request)
        minutes = context["minutes"]
        throughput = data.throughput(minutes, group_id)
        context.update(
            title=_("Dashboard of share group “%(name)s”") % {"name": group_id},
            group_id=group_id,
            detail_url=self._admin_url("sharegroup", "detail", group_id),
            chart=throughput_chart(throughput, group_id),
            throughput=throughput,
            figures=[
                {"key": key, "label": OUTCOMES[key], "value": value}
                for key, value in throughput.totals.items()
            ],
        )
        try:
            with open_admin() as client:
                overview = load_overview(client, group_id, with_configs=False)
        except GroupIdNotFoundError:
            context["missing"] = True
        except ADMIN_ERRORS as error:
            context["error"] = serialize.error_data(error)
        else:
            context["overview"] = overview
            context["members"] = [
                {"member": m, "host": format_host(m.client_host)}
                for m in overview.description.members
            ]
            context["lag_chart"] = BarChart(
                _("Lag per partition of %(name)s") % {"name": group_id},
                description=_("Records not yet acknowledged, per topic and partition."),
                items=[
                    (partition_label(o, overview.offsets), o.lag or 0) for o in overview.offsets
                ],
                width=420,
                height=180,
            ).render()
        since = context["now"] - timedelta(minutes=minutes)
        if self._may(request, "archivedrecord") and self._may(request, "deadletter"):
            counts = data.delivery_counts(group_id, since)
            context["delivery_counts"] = counts
            context["delivery_chart"] = BarChart(
                _("Final delivery counts in %(name)s") % {"name": group_id},
                description=_(
                    "Records archived or dead-lettered in the window, by their delivery count."
                ),
                items=[
                    (str(r["delivery_count"]), r["archived"] + r["dead_lettered"]) for r in counts
                ],
                width=420,
                height=180,
            ).render()
        if self._may(request, "lease"):
            context["lease_count"], context["leases"] = data.leases(group_id, context["now"])
        context["processes"] = self._processes(request, group_id)
        if self._may(request, "archivedrecord"):
            context["archived"] = [
                (r, self._admin_url("archivedrecord", "change", r.pk))
                for r in data.recent_archived(group_id)
            ]
        if self._may(request, "deadletter"):
            context["dead_letters"] = [
                (r, self._admin_url("deadletter", "change", r.pk))
                for r in data.recent_dead_letters(group_id)
            ]
        return self._render(request, "group.html", context)


def partition_label(entry: Any, offsets: list) -> str:
    """``"3"`` when the group reads one topic, ``"orders[3]"`` when it reads several."""
    if len({o.topic for o in offsets}) == 1:
        return str(entry.partition)
    return f"{entry.topic}[{entry.partition}]"


def _stale_after() -> float:
    from ..conf import get_settings

    return get_settings().mirror.stale_after
