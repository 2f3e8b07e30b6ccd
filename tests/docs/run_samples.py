"""Run every Python sample of one Markdown file, each in a fresh namespace (a subprocess).

``python -m tests.docs.run_samples FILE`` sets Django up with the test settings, executes each
```` ```python ```` block of FILE with an empty share-group registry, and prints one JSON line
per sample: its line and the error it raised, if any. A subprocess per file keeps what samples
do (declared share groups, subscribed listeners, settings) away from the test session.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
import types
from pathlib import Path


def main(path: str) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    from tests.docs.markdown import samples

    page_samples = samples(Path(path), "python")
    with tempfile.TemporaryDirectory() as directory:
        # Samples that enqueue tasks get a migrated database of their own and the in-memory
        # broker (a real one from the environment would lack the page's topics).
        needs_database = any(".enqueue(" in sample.code for sample in page_samples)
        if needs_database:
            os.environ["DATABASE_URL"] = f"sqlite:///{directory}/samples.sqlite3"
            os.environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        django.setup()
        if needs_database:
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
        run(page_samples)
    return 0


def run(page_samples) -> None:
    from django_sharegroups.routing import registry

    for sample in page_samples:
        error = None
        with registry.isolated():
            try:
                code = compile(sample.code, str(sample), "exec")
                # A real module, so what a sample defines can be imported by path (tasks).
                module = types.ModuleType(f"docs_sample_{sample.line}")
                sys.modules[module.__name__] = module
                exec(code, module.__dict__)
                apply_settings(module.__dict__)
            except BaseException:  # noqa: BLE001 - report every failure of a sample
                error = traceback.format_exc(limit=-3)
        print(json.dumps({"line": sample.line, "error": error}), flush=True)


#: Settings a page may set in one sample and rely on in the next (as a reader would put them
#: in settings.py). INSTALLED_APPS cannot change once Django is set up.
SETTINGS_SAMPLES = ("TASKS", "SHAREGROUPS")


def apply_settings(namespace: dict) -> None:
    from django.test.utils import override_settings

    found = {name: namespace[name] for name in SETTINGS_SAMPLES if name in namespace}
    if found:
        override_settings(**found).enable()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
