"""Django admin of django-sharegroups, one module per concern (autodiscovered as ``.admin``).

``mirror``: the mirrored state and processed records. ``links``: changelist URLs per share group.
``share_groups``: the cluster's share groups (read from the broker) and their audit log.
``dashboards``: throughput, lag, delivery counts and leases per share group (``charts``:
the SVG, ``dashboard_data``: the queries).
"""

from . import (
    dashboards,  # noqa: F401 - registers the dashboards (on the rollup model)
    mirror,  # noqa: F401 - registers the model admins
    share_groups,  # noqa: F401 - registers the share-group section and audit log
)
