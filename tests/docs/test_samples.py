"""Every Python code sample in the README and docs/ runs: imports resolve, declarations are
accepted, settings dicts are valid Python. (Shell commands are exercised by the tests of the
commands they show; the getting-started guide is followed end to end by its own test.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.docs.markdown import DOCS, samples

REPO_ROOT = DOCS.parent
PAGES = sorted(
    path for path in [REPO_ROOT / "README.md", *DOCS.rglob("*.md")] if samples(path, "python")
)


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_python_samples_run(page) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.docs.run_samples", str(page)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == len(samples(page, "python")), result.stdout + result.stderr
    failures = [f"line {r['line']}:\n{r['error']}" for r in reports if r["error"]]
    assert not failures, f"{page.name}: " + "\n".join(failures)


def test_samples_are_found() -> None:
    """The fence parser sees the samples (a broken parser would make the test above vacuous)."""
    guide = DOCS / "guides" / "getting-started.md"
    assert len(samples(guide, "python")) >= 4
    assert guide in PAGES
