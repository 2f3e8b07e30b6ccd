"""The clocks the broker reads time from."""

from __future__ import annotations

import gc
import time

import pytest

from django_sharegroups.clients.memory import ManualClock, MemoryBroker, SystemClock


def test_manual_clock_moves_only_forward_and_only_when_told() -> None:
    clock = ManualClock(start_ms=1_000)
    assert clock.now_ms() == 1_000
    assert clock.advance(1.5) == 2_500
    assert clock.advance(ms=5) == 2_505
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.real_seconds_until(2_505) == 0.0
    assert clock.real_seconds_until(2_506) is None  # never, on its own


def test_manual_clock_calls_back_on_advance_and_forgets_dead_brokers() -> None:
    clock = ManualClock()
    calls: list[int] = []
    clock.on_advance(lambda: calls.append(clock.now_ms()))
    manual_broker = MemoryBroker(clock=clock)
    clock.advance(1)
    assert calls == [clock.now_ms()]
    del manual_broker
    gc.collect()
    clock.advance(1)  # the dead broker's bound method is skipped, not called
    assert len(calls) == 2


def test_system_clock_is_wall_time() -> None:
    clock = SystemClock()
    assert abs(clock.now_ms() - time.time() * 1000) < 1_000
    assert 0.5 < clock.real_seconds_until(clock.now_ms() + 1_000) <= 1.0
    assert clock.real_seconds_until(0) == 0.0
