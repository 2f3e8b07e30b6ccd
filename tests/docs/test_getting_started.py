"""docs/guides/getting-started.md, followed word for word in a fresh ``startproject``.

The settings, ``consumers.py`` and test of the guide are taken from the Markdown itself, so
the guide cannot drift from what works: a new project, the app added, ``check``,
``migrate``, the guide's pytest test on the in-memory broker, and ``runshareconsumers``
started and stopped with SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.markdown import DOCS, sample_containing

GUIDE = DOCS / "guides" / "getting-started.md"
REPO_ROOT = DOCS.parent

pytestmark = pytest.mark.timeout(300)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DJANGO_"))}
    env.pop("DATABASE_URL", None)
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
    return env


def _run(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A new Django project set up as the guide's steps 1-3 say."""
    project = tmp_path_factory.mktemp("guide")
    _run(project, "-m", "django", "startproject", "mysite", ".")
    _run(project, "manage.py", "startapp", "shop")
    settings = project / "mysite" / "settings.py"
    installed_apps = sample_containing(GUIDE, "INSTALLED_APPS").code
    settings.write_text(settings.read_text() + "\n" + installed_apps)
    (project / "shop" / "consumers.py").write_text(sample_containing(GUIDE, "share_group(").code)
    return project


def test_check_and_migrate_pass(project: Path) -> None:
    checked = _run(project, "manage.py", "check")
    assert "no issues" in checked.stdout
    migrated = _run(project, "manage.py", "migrate")
    assert "Applying django_sharegroups.0001_initial... OK" in migrated.stdout


def test_the_guides_test_passes_on_the_in_memory_broker(project: Path) -> None:
    (project / "shop" / "test_orders.py").write_text(sample_containing(GUIDE, "def test_").code)
    (project / "pytest.ini").write_text(
        "[pytest]\nDJANGO_SETTINGS_MODULE = mysite.settings\npython_files = test_*.py\n"
    )
    result = _run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider", "shop")
    assert "1 passed" in result.stdout


def test_a_broken_route_fails_check(project: Path) -> None:
    """Step 3's promise: a misspelt option is a system-check error with an id."""
    consumers = project / "shop" / "consumers.py"
    good = consumers.read_text()
    consumers.write_text(good.replace('topic("orders", ', 'topic("orders", jobs_bilder="x", '))
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "check"],
            cwd=project,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        consumers.write_text(good)
    assert result.returncode != 0
    assert "sharegroups.E006" in result.stderr


def test_runshareconsumers_starts_two_members_and_stops_on_sigterm(project: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runshareconsumers"],
        cwd=project,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "share-consumer instance(s)" in line:
            break
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=60)
    output = "".join(seen) + rest
    assert process.returncode == 0, output
    assert "Started 2 share-consumer instance(s)" in output
    assert "shop-orders" in output
