"""Test settings: the example project plus the test apps.

``DATABASE_URL`` selects PostgreSQL (CI) or SQLite (default); ``KAFKA_BOOTSTRAP_SERVERS`` is
read by the fixtures, not here, so tests choose their broker explicitly.
"""

from example_project.settings import *  # noqa: F403
from example_project.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp", "tests.orm"]
SHAREGROUPS = {"CLIENT": None, "KAFKA": {}, "SHUTDOWN_TIMEOUT": 15}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
