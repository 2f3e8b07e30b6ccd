"""Every Python code sample in the README and docs/ runs: imports resolve, declarations are
accepted, settings dicts are valid Python. (Shell commands are exercised by the tests of the
commands they show; the getting-started guide is followed end to end by its own test.)"""

from __future__ import annotations

import json
import os
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


#: The getting-started guide's test runs in the project the guide builds
#: (tests/docs/test_getting_started.py); the other pages' tests run against the example project.
TEST_PAGES = [
    page
    for page in PAGES
    if page.name != "getting-started.md"
    and any("def test_" in sample.code for sample in samples(page, "python"))
]


@pytest.mark.parametrize("page", TEST_PAGES, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_sample_tests_pass(page, tmp_path) -> None:
    """Samples that are tests (docs/testing.md, the getting-started guide) pass when pytest
    runs them, with the plugin, against the example project's share groups."""
    written = []
    for sample in samples(page, "python"):
        if "def test_" in sample.code:
            path = tmp_path / f"test_{page.stem.replace('-', '_')}_{sample.line}.py"
            path.write_text(sample.code)
            written.append(path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        + ["--rootdir", str(tmp_path), "-c", "/dev/null", "--ds", "tests.settings"]
        + [str(path) for path in written],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    tests = sum(
        sample.code.count("\ndef test_") + sample.code.startswith("def test_")
        for sample in samples(page, "python")
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"{tests} passed" in result.stdout, result.stdout[-2000:]
