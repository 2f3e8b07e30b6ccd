"""The switch for OpenTelemetry tracing: builds the job tracer only when it is on.

Kept apart from ``tracing.py`` so that a process with tracing off never imports OpenTelemetry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import ConfigurationError

if TYPE_CHECKING:
    from .tracing import JobTracer

MISSING = (
    "SHAREGROUPS['TRACING'] is on but OpenTelemetry is not installed ({error}); install the "
    "'otel' extra: pip install 'django-sharegroups[otel]' (opentelemetry-api and "
    "opentelemetry-sdk), or turn TRACING off."
)


def job_tracer(enabled: bool) -> JobTracer | None:
    """A :class:`JobTracer` when tracing is on, else None; ``ConfigurationError`` when on
    but the packages are missing."""
    if not enabled:
        return None
    try:
        from .tracing import JobTracer
    except ImportError as exc:
        raise ConfigurationError(MISSING.format(error=exc)) from exc
    return JobTracer()


def tracing_unavailable() -> str | None:
    """Why tracing cannot be turned on here (for the system check), or None."""
    try:
        job_tracer(True)
    except ConfigurationError as exc:
        return str(exc)
    return None
