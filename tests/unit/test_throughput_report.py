"""The statistics and the page of `python -m benchmarks.throughput` (throughput_report.py) and
the pieces its processes share (Tally, the workload record, Java's output)."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks import throughput_report as report
from benchmarks.harness import RECORD_BYTES, java_outcome, record
from benchmarks.project.tally import Tally

META = {
    "command": "python -m benchmarks.throughput --quick",
    "when": "2026-12-02 01:00 UTC",
    "commit": "abc1234",
    "mode": "quick",
    "load": [1.0, 2.0],
}


def outcome(count: int, seconds: float, error: str | None = None, cpu: float = 0.5) -> dict:
    return {"count": count, "seconds": seconds, "cpu": cpu, "startup": 1.0, "error": error}


def backlog_part(rounds: list[dict]) -> dict:
    names = {name for r in rounds for name in r}
    return {
        "records": 1000,
        "budget": 5.0,
        "contenders": {name: name for name in sorted(names)},
        "rounds": rounds,
        "meta": META,
    }


def test_ratios_are_taken_per_round_and_skip_failed_runs():
    rounds = [
        {"loop": outcome(1000, 1.0), "per_batch confluent": outcome(1000, 2.0, cpu=1.0)},  # 0.5
        {"loop": outcome(1000, 0.5), "per_batch confluent": outcome(1000, 1.0)},  # 0.5
        {"loop": outcome(1000, 1.0), "per_batch confluent": outcome(0, 0, "no result")},
    ]
    assert report.ratios(rounds, "per_batch confluent") == [0.5, 0.5]
    assert report.rates(rounds, "per_batch confluent") == [500.0, 1000.0, None]
    assert report.median(report.rates(rounds, "loop")) == 1000.0
    # CPU per record: the loop 500 µs; the contender 1000 µs, then 500 µs
    assert report.cpu_ratios(rounds, "per_batch confluent") == [0.5, 1.0]


def test_verdict_tells_goal_floor_and_miss_apart():
    assert report.verdict(0.75, 0.7, 0.5) == "**met**"
    assert report.verdict(0.6, 0.7, 0.5) == "floor met, goal not"
    assert report.verdict(0.4, 0.7, 0.5) == "**not met**"
    assert report.verdict(None, 0.7) == "not measured"


def test_percentile_is_nearest_rank_and_keeps_infinity():
    values = [float(n) for n in range(1, 101)]
    assert report.percentile(values, 50) == 50.0
    assert report.percentile(values, 99) == 99.0
    assert report.percentile([1.0, math.inf], 99) == math.inf
    assert math.isnan(report.percentile([], 50))


def test_live_stats_count_unconsumed_records_as_infinitely_late():
    end = 1000.0
    samples = [(end - 1, 0.010)] * 90 + [(end + 5, 0.200)] * 5  # 5 late, 5 never consumed
    stats = report.live_stats({"samples": samples}, produced=100, produce_end=end)
    assert stats["kept_up"] == 0.90
    assert stats["p50"] == 0.010
    assert stats["p99"] == math.inf
    assert stats["consumed"] == 95


def test_goals_cover_every_measured_part():
    backlog = backlog_part(
        [
            {
                "loop": outcome(1000, 1.0),
                "per_batch confluent": outcome(1000, 1.25),  # 0.8× loop
                "per_batch native": outcome(1000, 2.5),  # 0.4× loop, 0.5× confluent
                "per_message confluent": outcome(1000, 3.0),  # 0.33×: floor only
                "per_message native": outcome(1000, 2.0),
                "native raw": outcome(1000, 1.6),  # 0.625×
            }
        ]
    )
    live = {
        "rate": 1000,
        "seconds": 30,
        "engine": "per_message",
        "contenders": {"loop": "loop", "per_message": "engine"},
        "rounds": [
            {
                "loop": {"kept_up": 1.0, "p50": 0.004, "p99": 0.090},
                "per_message": {"kept_up": 0.99, "p50": 0.010, "p99": 0.300},
            }
        ],
    }
    found = {g.what: g for g in report.goals({"backlog": backlog, "live": live})}
    by_start = {what.split(" ≥")[0]: g.verdict for what, g in found.items()}
    assert by_start["`per_batch confluent`"] == "**met**"
    assert by_start["`per_batch native`"] == "**not met**"
    assert by_start["`per_message confluent`"] == "floor met, goal not"
    assert found["`per_message native` ≥ 1.0× `per_message confluent`"].verdict == "**met**"
    assert found["native adapter without the engine ≥ 0.5× the loop"].verdict == "**met**"
    kept = next(g for what, g in found.items() if what.startswith("per_message keeps up"))
    assert (kept.measured, kept.verdict) == ("0.990", "**met**")
    p99 = found["live p99 ≤ 2× the loop's"]
    assert (p99.measured, p99.verdict) == ("300 ms vs 90 ms", "**not met**")
    assert report.fmt_ms(math.inf) == "not consumed"


def test_scaling_and_orm_goals():
    scaling = {
        "job_ms": 20,
        "ideal_seconds": 5,
        "configs": [
            {"name": "1 × 8", "parallel": 8},
            {"name": "32 × 1", "parallel": 32},
        ],
        "rounds": [
            {
                "1 × 8": {**outcome(380, 1.0), "steady": 392},
                "32 × 1": {**outcome(1200, 1.0), "steady": 1480},
            }
        ],
    }
    orm = {
        "records": 100,
        "database": "PostgreSQL",
        "contenders": {"orm loop": "loop", "idempotent consumer": "engine"},
        "rounds": [{"orm loop": outcome(100, 1.0), "idempotent consumer": outcome(100, 1.25)}],
    }
    results = {"scaling": scaling, "orm": orm}
    for part in results.values():
        part["meta"] = META
    found = {g.what: g for g in report.goals(results)}
    worst = "I/O-bound ≥ 0.9× ideal up to 32 parallel jobs (worst configuration, {})"
    whole = found[worst.format("first record to last")]
    assert (whole.measured, whole.verdict) == ("0.75×", "**not met**")  # 1200 / 1600
    steady = found[worst.format("steady rate")]
    assert (steady.measured, steady.verdict) == ("0.93×", "**met**")  # 1480 / 1600
    orm_goal = found["idempotent ORM consumer ≥ 0.7× the hand-written ORM loop"]
    assert (orm_goal.measured, orm_goal.verdict) == ("0.80×", "**met**")
    page = report.render(results, "m")
    assert "Ratio (median per round): **0.80×**" in page
    assert "| 1 × 8 | 8 | 380 | 400 | 0.95× | 392 | 0.98× | 380 |" in page


def test_steady_rate_leaves_out_the_ramp_up_and_the_drain():
    # 10 records in the first 2 s, then 80 at 100/s, then 10 more over 3 s
    times = [0.2 * n for n in range(10)] + [2 + n / 100 for n in range(80)]
    times += [2.8 + 0.3 * n for n in range(10)]
    assert report.steady_rate(times) == pytest.approx(100, rel=0.02)
    whole = len(times) / (max(times) - min(times))
    assert whole < 20
    assert report.steady_rate(times[:10]) is None  # too few to tell


def test_render_shows_every_round_and_failures():
    part = backlog_part(
        [
            {"loop": outcome(1000, 1.0), "per_batch confluent": outcome(1000, 2.0)},
            {"loop": outcome(1000, 1.0), "per_batch confluent": outcome(0, 0, "no result")},
        ]
    )
    page = report.render({"backlog": part}, "a test machine")
    assert "Machine: a test machine" in page
    assert "| 1,000, 1,000 |" in page  # every round of the loop
    assert "500, failed" in page
    assert "Failed runs: per_batch confluent: no result." in page
    assert "commit abc1234, quick mode" in page


def test_top_frames_add_up_a_functions_lines_and_threads():
    collapsed = "\n".join(
        [
            "thread (1): sharegroups:G:0;main (a.py:1);poll (c.py:10) 30",
            "thread (1): sharegroups:G:0;main (a.py:1);poll (c.py:12) 20",
            "thread (2): sharegroups:mirror-reporter;main (a.py:1);work (b.py:5);loads (j.py:3) 50",
            "not a stack line",
        ]
    )
    frames, threads, total = report.top_frames(collapsed, limit=2)
    assert total == 100
    assert frames == [("poll (c.py)", 0.5), ("loads (j.py)", 0.5)]
    assert threads == {"sharegroups:G:0": 0.5, "sharegroups:mirror-reporter": 0.5}


def test_tally_writes_once_when_the_target_is_reached(tmp_path):
    tally = Tally(str(tmp_path / "run.json"), target=10, budget=60)
    tally.add(4)
    assert tally.started_marker.exists() and not tally.path.exists()
    tally.add(6, [0.0])
    tally.add(5)  # after the target: counted in memory, the file stays as written
    data = json.loads(tally.path.read_text())
    assert data["count"] == 10 and data["seconds"] >= 0
    assert len(data["samples"]) == 1
    tally.finish()
    assert json.loads(tally.path.read_text())["count"] == 10


def test_tally_finish_writes_a_partial_result(tmp_path):
    tally = Tally(str(tmp_path / "run.json"), target=10, budget=60)
    tally.finish()
    assert json.loads(tally.path.read_text())["count"] == 0


def test_workload_records_are_100_bytes_of_json():
    for n in (0, 12345, 10**9):
        assert len(record(n)) == RECORD_BYTES
        assert json.loads(record(n))["n"] == n
    assert json.loads(record(7, ts=1.5))["ts"] == 1.5


def test_java_is_timed_from_its_first_report_with_records(tmp_path):
    log = tmp_path / "run.log"
    log.write_text(
        "start.time, end.time, data.consumed.in.MB, MB.sec, nMsg.sec, data.consumed.in.nMsg, "
        "fetch.time.ms\n"
        "2026-12-02 01:02:27:344, 2026-12-02 01:02:29:484, 0.0001, 0.0000, 0.4673, 1, 2140 "
        "for share consumer 1\n"
        "2026-12-02 01:02:29:484, 2026-12-02 01:02:29:676, 0.0706, 0.3671, 3848.9583, 740, 192 "
        "for share consumer 1\n"
        "2026-12-02 01:02:25:599, 2026-12-02 01:02:31:484, 9.5367, 0.8802, 9229.3493, 100001, "
        "5885\n"
    )
    result = java_outcome({"result": str(tmp_path / "run.json")}, 0)
    assert (result.count, result.error) == (100000, None)
    assert result.seconds == 2.0
    assert round(result.startup, 3) == 2.140
    assert java_outcome({"result": str(tmp_path / "run.json")}, 1).error


def test_rss_is_summarised_from_the_first_record_on():
    samples = [(0.0, 10), (1.0, 0), (2.0, 40)] + [(3.0 + n, 50 + n) for n in range(20)]
    memory = report.rss_summary(samples, startup=2.0)
    assert memory == {"first": 40, "tenth": 51, "max": 69, "last": 69}
    assert report.rss_summary([], None) == {}


def test_live_page_lists_failed_runs():
    live = {
        "rate": 1000,
        "seconds": 30,
        "engine": "per_message",
        "contenders": {"loop": "loop", "per_message": "engine"},
        "rounds": [{"loop": {"kept_up": 1.0, "p50": 0.004, "p99": 0.090}}],
        "errors": ["round 1, per_message: never consumed"],
        "meta": META,
    }
    page = report.render({"live": live}, "m")
    assert "Failed runs: round 1, per_message: never consumed." in page
    assert "| per_message: engine | — | — | — |  |" in page


def test_tally_clock_starts_when_records_are_in_hand(tmp_path):
    tally = Tally(str(tmp_path / "run.json"), target=5, budget=60)
    tally.begin()
    first = tally.first
    assert tally.started_marker.exists()
    tally.begin()  # later polls do not move the start
    tally.add(5)
    data = json.loads(tally.path.read_text())
    assert tally.first == first and data["seconds"] > 0
