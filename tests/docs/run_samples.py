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
import traceback
from pathlib import Path


def main(path: str) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django_sharegroups.routing import registry
    from tests.docs.markdown import samples

    for sample in samples(Path(path), "python"):
        error = None
        with registry.isolated():
            try:
                code = compile(sample.code, str(sample), "exec")
                exec(code, {"__name__": f"docs_sample_{sample.line}"})
            except BaseException:  # noqa: BLE001 - report every failure of a sample
                error = traceback.format_exc(limit=-3)
        print(json.dumps({"line": sample.line, "error": error}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
