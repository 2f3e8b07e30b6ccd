"""The bounded fuzz run CI does on every change (``fuzz.py`` holds the harness; the long run
and its result are in docs/native.md)."""

from __future__ import annotations

import pytest

from . import fuzz

INPUTS = 3000


@pytest.fixture(scope="module")
def corpus() -> fuzz.Corpus:
    return fuzz.load_corpus()


@pytest.mark.parametrize("target", sorted(fuzz.TARGETS))
def test_mutated_inputs_raise_only_documented_errors(
    target: str, corpus: fuzz.Corpus, record_decoder: str
) -> None:
    outcome = fuzz.run(target, INPUTS, seed=20261202, corpus=corpus)
    assert outcome.findings == []
    assert outcome.inputs == INPUTS


def test_the_harness_reports_a_finding(corpus: fuzz.Corpus, monkeypatch) -> None:
    """An undocumented exception in the decoder is a finding, not a pass."""

    def broken(data, **options):
        raise OverflowError("cannot fit 'int' into an index-sized integer")

    monkeypatch.setattr(fuzz, "read_batches", broken)
    outcome = fuzz.run("batches", 5, seed=1, corpus=corpus)
    assert outcome.findings and "OverflowError" in outcome.findings[0]
