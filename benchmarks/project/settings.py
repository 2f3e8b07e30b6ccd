"""Settings of the benchmark project: only what a consumer process needs, from the environment.

``DATABASE_URL`` (the harness points it at a throwaway database) and ``KAFKA_BOOTSTRAP_SERVERS``
as in any project; ``SHAREGROUPS_CLIENT`` picks the adapter (unset: the package's default).
"""

import json
import os

import environ

env = environ.Env()

SECRET_KEY = "benchmark-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_sharegroups",
    "benchmarks.project",
]
DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:////tmp/sharegroups-bench.sqlite3")}
# Persistent connections, as docs/orm.md recommends for consumer processes.
DATABASES["default"]["CONN_MAX_AGE"] = 600
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# A run may turn the summary lines off (BENCH_RUN "summary_interval": 0) to measure the
# process without any metrics listener, or set the confluent adapter's members.
RUN = json.loads(os.environ.get("BENCH_RUN") or "{}")
SHAREGROUPS = {
    "CLIENT": os.environ.get("SHAREGROUPS_CLIENT") or None,
    "SUMMARY_INTERVAL": RUN.get("summary_interval", 60.0),
}
if "confluent_members" in RUN:
    SHAREGROUPS["CONFLUENT_MEMBERS"] = RUN["confluent_members"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_sharegroups": {"handlers": ["console"], "level": "WARNING"}},
}
