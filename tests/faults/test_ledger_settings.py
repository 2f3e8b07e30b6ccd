"""The fault runs' child processes use the test session's database the way the parent does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.db import connection

from .helpers import ROOT, ledger_env, session_database_url

pytestmark = pytest.mark.django_db


def test_the_child_keeps_the_database_options_of_the_session():
    """On SQLite these are IMMEDIATE transactions and a 20 s busy timeout: without them the
    ledger run's job threads failed with "database is locked" on a loaded CI machine."""
    env = ledger_env({}, LEDGER_DATABASE_URL=session_database_url())
    script = (
        "import django, json; django.setup(); from django.db import connection; "
        "print(json.dumps([connection.settings_dict['NAME'], connection.settings_dict['OPTIONS']]))"
    )
    child = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert child.returncode == 0, child.stderr
    name, options = json.loads(child.stdout)
    assert name == connection.settings_dict["NAME"]
    assert options == connection.settings_dict["OPTIONS"]
    if connection.vendor == "sqlite":
        assert options == {"transaction_mode": "IMMEDIATE", "timeout": 20}
