"""Settings of the example project: a Django site with share groups in two apps — ``jobs``
(the quick start's one group) and ``shop`` (orders, search indexing, webhooks with retries and
a dead-letter queue, per-customer events).

Everything comes from the environment (django-environ; a ``.env`` file next to manage.py is
read too, see ``.env.example``), so the same project runs on the in-memory broker (no
``KAFKA_BOOTSTRAP_SERVERS``) or on a real Kafka cluster, under ``runserver`` or gunicorn.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DJANGO_DEBUG=(bool, True),
    DJANGO_SECRET_KEY=(str, "insecure-example-key-change-me"),
    DJANGO_ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1"]),
    DATABASE_URL=(str, f"sqlite:///{BASE_DIR / 'example.sqlite3'}"),
    KAFKA_BOOTSTRAP_SERVERS=(str, ""),
    SHAREGROUPS_CLIENT=(str, ""),
    LOG_LEVEL=(str, "INFO"),
    STATIC_ROOT=(str, str(BASE_DIR / "staticfiles")),
)
if os.path.exists(BASE_DIR / ".env"):
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env("DJANGO_DEBUG")
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env("DJANGO_ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_sharegroups",
    "django_sharegroups.tasks",  # task results (model + admin); see docs/tasks.md
    "example_project.jobs",
    "example_project.shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's static files under gunicorn (collectstatic fills STATIC_ROOT).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Consumer threads write concurrently: take the write lock when a transaction starts
    # (no lock-upgrade deadlocks) and wait for it instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT")

SHAREGROUPS: dict[str, object] = {
    # Unset: "native" with Kafka 4.4 (else "confluent", logged), "memory" without Kafka.
    "CLIENT": env("SHAREGROUPS_CLIENT") or None,
    # librdkafka keys for every client; KAFKA_BOOTSTRAP_SERVERS fills in bootstrap.servers.
    "KAFKA": {},
    "SHUTDOWN_TIMEOUT": 30,
    # Sample records for `manage.py runshareconsumers --demo` (in-memory broker only).
    "DEMO_RECORDS": "example_project.demo.records",
}

# Django's Tasks framework (django-tasks on Django 5.2): `@task` functions in
# example_project/jobs/tasks.py run on share groups in `manage.py runshareconsumers`.
TASKS = {
    "default": {
        "BACKEND": "django_sharegroups.tasks.ShareGroupsBackend",
        "QUEUES": ["default"],
        "OPTIONS": {"enqueue_on_commit": True},
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django_sharegroups": {"handlers": ["console"], "level": env("LOG_LEVEL")},
        "example_project": {"handlers": ["console"], "level": env("LOG_LEVEL")},
    },
}
