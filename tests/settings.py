"""Test settings: the example project plus the test apps.

``DATABASE_URL`` selects PostgreSQL (CI) or SQLite (default); ``KAFKA_BOOTSTRAP_SERVERS`` is
read by the fixtures, not here, so tests choose their broker explicitly.
"""

from example_project.settings import *  # noqa: F403
from example_project.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp", "tests.orm"]
SHAREGROUPS = {"CLIENT": None, "KAFKA": {}, "SHUTDOWN_TIMEOUT": 15}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file per test process instead of pytest-django's shared-cache memory database: there,
    # a thread that meets another thread's write fails at once ("table is locked"); with a
    # file it waits (busy timeout), as consumer threads do on a real SQLite database.
    import os
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"sharegroups-tests-{os.getpid()}.sqlite3")
    }
