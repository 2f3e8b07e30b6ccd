"""Django admin of django-sharegroups, one module per concern (autodiscovered as ``.admin``).

``mirror``: the mirrored state and processed records. ``links``: changelist URLs per share group.
``share_groups``: the cluster's share groups (read from the broker) and their audit log.
"""

from . import (
    mirror,  # noqa: F401 - registers the model admins
    share_groups,  # noqa: F401 - registers the share-group section and audit log
)
