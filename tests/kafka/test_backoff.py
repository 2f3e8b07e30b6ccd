"""Backoff between failed attempts and outage logging: exponential with jitter, one warning per
failure episode."""

from __future__ import annotations

import logging

import pytest

from django_sharegroups.kafka.backoff import JITTER, Backoff, FailureEpisode


def test_delays_double_with_jitter_up_to_the_maximum() -> None:
    backoff = Backoff(0.1, 1.0)
    delays = [backoff.failed() for _ in range(8)]
    for attempt, delay in enumerate(delays):
        exact = min(1.0, 0.1 * 2**attempt)
        assert exact * (1 - JITTER) <= delay <= min(1.0, exact * (1 + JITTER))
    assert delays[-1] <= 1.0 and backoff.failures == 8
    assert 0 < backoff.remaining() <= 1.0
    backoff.succeeded()
    assert backoff.failures == 0 and backoff.remaining() == 0
    assert backoff.failed() <= 0.1 * (1 + JITTER)


def test_jitter_spreads_clients_apart() -> None:
    first_delays = {Backoff(1.0, 10.0).failed() for _ in range(50)}
    assert len(first_delays) > 40


def test_a_failure_episode_warns_once_and_counts_on_recovery(caplog) -> None:
    logger = logging.getLogger("tests.backoff")
    episode = FailureEpisode(logger, "ShareFetch to node 1")
    with caplog.at_level(logging.DEBUG, logger="tests.backoff"):
        for _ in range(500):
            episode.failed(ConnectionRefusedError("refused"), 0.1)
        episode.succeeded()
        episode.succeeded()  # nothing to report twice
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "ShareFetch to node 1 failed: refused; retrying in 0.10s with backoff"
    ]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1 and "after 500 failed attempt(s)" in infos[0]


@pytest.mark.parametrize("initial,maximum", [(0.0, 0.0), (0.5, 0.1)])
def test_degenerate_settings_never_go_negative_or_past_the_maximum(initial, maximum) -> None:
    backoff = Backoff(initial, maximum)
    assert all(0 <= backoff.failed() <= max(initial, maximum) for _ in range(40))
