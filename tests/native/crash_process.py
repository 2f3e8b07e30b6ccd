"""A consumer process to kill -9 in the middle of a job (``test_engine.py`` starts it).

    python -m tests.native.crash_process BOOTSTRAP TOPIC

Runs the share group named like TOPIC on the native adapter; its job prints
``JOB <partition> <offset>`` and then never finishes (auto-renew keeps the lock meanwhile).
"""

from __future__ import annotations

import os
import sys
import time

import django


def main() -> None:
    bootstrap, topic_name = sys.argv[1], sys.argv[2]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()
    from django_sharegroups import ShareGroupConsumer
    from django_sharegroups.conf import ShareGroupsSettings
    from django_sharegroups.runtime.runner import ShareConsumerRunner
    from tests.helpers import declare

    class Stuck(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                print(f"JOB {message.partition} {message.offset}", flush=True)
            while True:
                time.sleep(1)

    group = declare(
        topic_name,
        Stuck,
        client="native",
        # renewing at 0.3 of the 1 s lock leaves 700 ms for a RENEW on a loaded machine
        topic_options={
            "jobs_builder": "per_batch",
            "max_messages_per_job": 10,
            "renew_fraction": 0.3,
        },
    )
    runner = ShareConsumerRunner(
        [group],
        settings=ShareGroupsSettings(
            client="native", kafka={"bootstrap.servers": bootstrap}, poll_timeout=0.2
        ),
    )
    sys.exit(runner.run(handle_signals=False))


if __name__ == "__main__":
    main()
