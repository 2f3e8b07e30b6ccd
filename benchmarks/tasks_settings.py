"""Settings of ``python -m benchmarks.tasks``: the test settings plus both task backends."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]
TASKS = {
    "sharegroups": {
        "BACKEND": "django_sharegroups.tasks.ShareGroupsBackend",
        "OPTIONS": {"results": True, "priority_bands": {"normal": -100}},
    },
    "sharegroups_no_results": {
        "BACKEND": "django_sharegroups.tasks.ShareGroupsBackend",
        "OPTIONS": {"results": False, "priority_bands": {"normal": -100}},
    },
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend"},
}
