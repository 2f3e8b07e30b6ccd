"""Settings of the ``runshareconsumers`` subprocess in test_kafka_example: the test settings
with the example's task queue on a topic of the test's own (``TASKS_TOPIC``)."""

import os

from tests.settings import *  # noqa: F403


def task_settings(topic: str) -> dict:
    return {
        "default": {
            "BACKEND": "django_sharegroups.tasks.ShareGroupsBackend",
            "QUEUES": ["default"],
            "OPTIONS": {
                "queues": {"default": {"topic": topic}},
                "priority_bands": {"normal": -100},
                "delay_topic": f"{topic}.delay",
            },
        }
    }


TASKS = task_settings(os.environ.get("TASKS_TOPIC", "tasks.default"))
