from django.apps import AppConfig


class OrmTestsConfig(AppConfig):
    """The ORM tests double as an app, for the ``Effect`` model their consumers write."""

    name = "tests.orm"
    label = "orm_tests"
    default_auto_field = "django.db.models.BigAutoField"
