"""Django's Tasks framework on Kafka share groups: ``@task`` functions run by
``manage.py runshareconsumers``.

::

    TASKS = {"default": {"BACKEND": "django_sharegroups.tasks.ShareGroupsBackend"}}

Add ``"django_sharegroups.tasks"`` to ``INSTALLED_APPS`` to store results (``get_result``,
admin). See docs/tasks.md.
"""

__all__ = ["ShareGroupsBackend"]


def __getattr__(name: str):
    # Imported on first use: the backend needs django.tasks or django-tasks, and
    # django_sharegroups imports this package (for its routes) whether tasks are used or not.
    if name == "ShareGroupsBackend":
        from .backend import ShareGroupsBackend

        return ShareGroupsBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
