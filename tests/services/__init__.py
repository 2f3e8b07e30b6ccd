"""Real services the test-suite runs against: an Apache Kafka 4.4 broker and PostgreSQL.

Each module is importable (pytest fixtures use the Python API) and runnable as a CLI
(``python -m tests.services.kafka start``) so `.ci/run` and developers start the same thing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".cache"


def require_or_skip(service: str, reason: str) -> NoReturn:
    """Skip a test for lack of ``service``; fail it when SHAREGROUPS_REQUIRE_<SERVICE>=1.

    CI sets the variables so that a broken service can never pass as "skipped".
    """
    import pytest

    variable = f"SHAREGROUPS_REQUIRE_{service.upper()}"
    if os.environ.get(variable) == "1":
        pytest.fail(f"{service} is required ({variable}=1) but not available: {reason}")
    pytest.skip(f"{service} not available: {reason}")
