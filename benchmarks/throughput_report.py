"""Statistics and the docs/benchmarks.md section of `python -m benchmarks.throughput`.

Pure functions over the stored results (docs/benchmarks-throughput.json), so a re-run of one
part (``--only live``) re-renders the whole section with the other parts' last numbers.
Ratios are taken per round (contender / hand-written loop of the same round), then the median:
rounds alternate contenders, so a noisy minute hits both sides of a ratio.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

REFERENCE = "loop"
_LINE = re.compile(r":\d+\)$")


@dataclass(frozen=True)
class Goal:
    issue: int
    what: str
    measured: str
    verdict: str


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def rate(outcome: dict | None) -> float | None:
    if not outcome or outcome.get("error") or not outcome.get("seconds"):
        return None
    return outcome["count"] / outcome["seconds"]


def rates(rounds: Sequence[dict], name: str) -> list[float | None]:
    return [rate(r.get(name)) for r in rounds]


def ratios(rounds: Sequence[dict], name: str, reference: str = REFERENCE) -> list[float]:
    """Per round: the contender's rate over the reference's, where both have one."""
    pairs = ((rate(r.get(name)), rate(r.get(reference))) for r in rounds)
    return [a / b for a, b in pairs if a is not None and b]


def steady_rate(completions: Sequence[float] | None) -> float | None:
    """Records per second between the 10th and the 90th percentile of the completion times:
    the rate once every member works, without the ramp-up (members joining, the acquisition
    growing) and the drain at the end (the last members finishing what they hold)."""
    if not completions or len(completions) < 20:
        return None
    ordered = sorted(completions)
    low, high = len(ordered) // 10, (9 * len(ordered)) // 10
    span = ordered[high] - ordered[low]
    return (high - low) / span if span > 0 else None


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of unsorted ``values``; inf stays inf."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def verdict(value: float | None, goal: float, floor: float | None = None) -> str:
    if value is None or math.isnan(value):
        return "not measured"
    if value >= goal:
        return "**met**"
    if floor is not None and value >= floor:
        return "floor met, goal not"
    return "**not met**"


def live_stats(outcome: dict, produced: int, produce_end: float, grace: float = 1.0) -> dict:
    """Kept-up ratio (stream records consumed by ``grace`` s after the last was produced, over
    those produced) and produce→consume latency; records never consumed count as infinite."""
    samples = outcome.get("samples") or []
    kept = sum(1 for consumed_at, _ in samples if consumed_at <= produce_end + grace)
    latencies = [latency for _, latency in samples]
    latencies += [math.inf] * max(0, produced - len(latencies))
    return {
        "kept_up": kept / produced if produced else math.nan,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "consumed": len(samples),
    }


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def fmt_ms(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "—"
    return "not consumed" if math.isinf(seconds) else f"{seconds * 1000:,.0f} ms"


def _row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: Sequence[str], rows: Iterable[Iterable[object]]) -> str:
    lines = [_row(header), _row("---" for _ in header)]
    return "\n".join([*lines, *(_row(r) for r in rows)])


def _stamp(part: dict) -> str:
    meta = part["meta"]
    return (
        f"_`{meta['command']}` — {meta['when']}, commit {meta['commit']}, {meta['mode']} mode, "
        f"load average {meta['load'][0]:.1f} → {meta['load'][1]:.1f}._"
    )


# -- goals ------------------------------------------------------------------------------------


def goals(results: dict) -> list[Goal]:
    found: list[Goal] = []
    backlog = results.get("backlog")
    if backlog:
        rounds = backlog["rounds"]
        for name in backlog["contenders"]:
            if not name.startswith(("per_batch", "per_message")):
                continue
            goal, floor = (0.7, 0.5) if name.startswith("per_batch") else (0.4, 0.25)
            value = median(ratios(rounds, name))
            text = f"`{name}` ≥ {goal}× the loop (floor {floor}×), backlog"
            found.append(Goal(11, text, fmt_ratio(value), verdict(value, goal, floor)))
        for mode in ("per_batch", "per_message"):
            native, confluent = f"{mode} native", f"{mode} confluent"
            if native in backlog["contenders"] and confluent in backlog["contenders"]:
                value = median(ratios(rounds, native, confluent))
                goal = 0.9 if mode == "per_batch" else 1.0
                text = f"`{native}` ≥ {goal}× `{confluent}`"
                found.append(Goal(12, text, fmt_ratio(value), verdict(value, goal)))
        if "native raw" in backlog["contenders"]:
            value = median(ratios(rounds, "native raw"))
            text = "native adapter without the engine ≥ 0.5× the loop"
            found.append(Goal(12, text, fmt_ratio(value), verdict(value, 0.5)))
    live = results.get("live")
    if live:
        engine = [s for r in live["rounds"] for s in [r.get(live["engine"])] if s]
        loop = [s for r in live["rounds"] for s in [r.get(REFERENCE)] if s]
        kept = median(s["kept_up"] for s in engine)
        text = "per_message keeps up with 1,000 records/s (≥ 0.98 over 30 s)"
        if live["seconds"] < 30 or live["rate"] < 1000:
            text += f" — this run: {live['rate']:,}/s for {live['seconds']} s"
        found.append(Goal(11, text, "—" if kept is None else f"{kept:.3f}", verdict(kept, 0.98)))
        p99, loop_p99 = median(s["p99"] for s in engine), median(s["p99"] for s in loop)
        value = p99 / loop_p99 if p99 is not None and loop_p99 else None
        measured = f"{fmt_ms(p99)} vs {fmt_ms(loop_p99)}"
        met = "not measured" if value is None else "**met**" if value <= 2 else "**not met**"
        found.append(Goal(11, "live p99 ≤ 2× the loop's", measured, met))
    scaling = results.get("scaling")
    if scaling:
        for steady, how in ((True, "steady rate"), (False, "first record to last")):
            worst = min(
                (
                    e
                    for c in scaling["configs"]
                    for e in [median(_efficiencies(scaling, c, steady))]
                    if e
                ),
                default=None,
            )
            text = f"I/O-bound ≥ 0.9× ideal up to 32 parallel jobs (worst configuration, {how})"
            found.append(Goal(11, text, fmt_ratio(worst), verdict(worst, 0.9)))
    orm = results.get("orm")
    if orm:
        value = median(ratios(orm["rounds"], "idempotent consumer", "orm loop"))
        text = "idempotent ORM consumer ≥ 0.7× the hand-written ORM loop"
        found.append(Goal(11, text, fmt_ratio(value), verdict(value, 0.7)))
    exporter = results.get("metrics")
    if exporter:
        values = ratios(exporter["rounds"], ON, OFF)
        value = median(values)
        text = "the exporter costs ≤ 3 % throughput: per_batch on / off, records/s"
        met = verdict(value, 0.97)
        if values and max(values) - min(values) > 0.06:
            met = f"not resolved (rounds {min(values):.2f}–{max(values):.2f})"
        found.append(Goal(15, text, fmt_ratio(value), met))
        costs = exporter_cpu_costs(exporter["rounds"])
        cost = median(costs)
        text = "the exporter costs ≤ 3 %: whole-process CPU per record, on / off − 1"
        measured = "—" if cost is None else f"{cost:+.1%}"
        met = "not measured" if cost is None else "**met**" if cost <= 0.03 else "**not met**"
        if costs and max(costs) - min(costs) > 0.06:
            met = f"not resolved (rounds {min(costs):+.0%} to {max(costs):+.0%})"
        found.append(Goal(15, text, measured, met))
        share = exporter_share(exporter, SCRAPE_INTERVAL)
        text = (
            "the exporter's own CPU ≤ 3 % of the engine's per record (per_batch(500), "
            f"scraped every {SCRAPE_INTERVAL:.0f} s)"
        )
        measured = "—" if share is None else f"{share:.2%}"
        met = "not measured" if share is None else "**met**" if share <= 0.03 else "**not met**"
        found.append(Goal(15, text, measured, met))
    return found


ON, OFF = "exporter on", "exporter off"
#: A usual Prometheus scrape interval (the benchmark scrapes every second, the worst case).
SCRAPE_INTERVAL = 15.0


def exporter_own_us(part: dict, scrape_interval: float) -> float | None:
    """The exporter's own CPU µs per record at per_batch(500): its listeners, plus a scrape
    every ``scrape_interval`` s and an offsets read every 30 s spread over the records
    consumed meanwhile (at the "off" median rate)."""
    costs, rate_off = part.get("own_costs"), median(rates(part["rounds"], OFF))
    if not costs or not rate_off:
        return None
    per_second = costs["scrape_ms"] * 1000 / scrape_interval + costs["read_ms"] * 1000 / 30
    return costs["listener_us"]["500"] + per_second / rate_off


def exporter_share(part: dict, scrape_interval: float) -> float | None:
    """:func:`exporter_own_us` over the engine's CPU µs per record without the exporter."""
    own = exporter_own_us(part, scrape_interval)
    engine = median(cpu_per_record(r.get(OFF)) for r in part["rounds"])
    return own / engine if own is not None and engine else None


def exporter_cpu_costs(rounds: Sequence[dict]) -> list[float]:
    """Per round: the process CPU per record with the exporter over without it, minus 1."""
    pairs = ((cpu_per_record(r.get(ON)), cpu_per_record(r.get(OFF))) for r in rounds)
    return [on / off - 1 for on, off in pairs if on and off]


def _efficiencies(scaling: dict, config: dict, steady: bool = False) -> list[float]:
    """Per round: records/s (first record to last, or ``steady``: see :func:`steady_rate`)
    over the ideal rate."""
    ideal = config["parallel"] / (scaling["job_ms"] / 1000)
    name = config["name"]
    measured = _steady(scaling["rounds"], name) if steady else rates(scaling["rounds"], name)
    return [r / ideal for r in measured if r is not None]


def _steady(rounds: Sequence[dict], name: str) -> list[float | None]:
    return [(r.get(name) or {}).get("steady") for r in rounds]


# -- sections ---------------------------------------------------------------------------------


def render(results: dict, machine: str) -> str:
    parts = [
        "## Throughput: the engine against hand-written consumers",
        "",
        "`python -m benchmarks.throughput` (see benchmarks/README.md). Every contender runs in "
        "its own process on a fresh share group (`share.auto.offset.reset=earliest`) reading the "
        "same records; contenders alternate within each round. The reference for every ratio is "
        "**the loop**: a hand-written `confluent_kafka.ShareConsumer` loop (explicit mode, one "
        "ACCEPT per record). Ratios are medians of per-round ratios. Absolute numbers depend on "
        "the machine and its load; only ratios are goals.",
        "",
        f"Machine: {machine}",
        "",
        "### Goals (issues 11, 12 and 15)",
        "",
        _table(
            ("issue", "goal", "measured", "verdict"),
            ((f"#{g.issue}", g.what, g.measured, g.verdict) for g in goals(results)),
        ),
    ]
    for key, section in (
        ("backlog", render_backlog),
        ("live", render_live),
        ("scaling", render_scaling),
        ("rss", render_rss),
        ("orm", render_orm),
        ("profile", render_profile),
        ("metrics", render_metrics),
    ):
        if results.get(key):
            parts += ["", section(results[key]), "", _stamp(results[key])]
    return "\n".join(parts) + "\n"


def _rounds(rounds: Sequence) -> str:
    return "1 round" if len(rounds) == 1 else f"{len(rounds)} rounds"


def _runs(values: Iterable[float | None]) -> str:
    return ", ".join(fmt_rate(v) if v is not None else "failed" for v in values)


def cpu_per_record(outcome: dict | None) -> float | None:
    """Process CPU µs per consumed record, when the run has both."""
    if not outcome or outcome.get("error") or not outcome.get("cpu") or not outcome["count"]:
        return None
    return outcome["cpu"] / outcome["count"] * 1e6


def cpu_ratios(rounds: Sequence[dict], name: str, reference: str = REFERENCE) -> list[float]:
    """Per round: the reference's CPU per record over the contender's (higher is leaner)."""
    pairs = ((cpu_per_record(r.get(name)), cpu_per_record(r.get(reference))) for r in rounds)
    return [b / a for a, b in pairs if a and b]


def render_backlog(part: dict) -> str:
    rounds = part["rounds"]
    rows = []
    for name, label in part["contenders"].items():
        outcomes = [r.get(name) for r in rounds]
        cpu = median(cpu_per_record(o) for o in outcomes)
        startup = median(o.get("startup") for o in outcomes if o)
        reference = name == REFERENCE
        rows.append(
            (
                f"{name}: {label}",
                fmt_rate(median(rates(rounds, name))),
                "1 (reference)" if reference else fmt_ratio(median(ratios(rounds, name))),
                "—" if cpu is None else f"{cpu:.1f}",
                "1" if reference else fmt_ratio(median(cpu_ratios(rounds, name))),
                "—" if startup is None else f"{startup:.1f} s",
                _runs(rates(rounds, name)),
                "" if reference else ", ".join(f"{r:.2f}" for r in ratios(rounds, name)),
            )
        )
    errors = sorted({f"{n}: {o['error']}" for r in rounds for n, o in r.items() if o["error"]})
    note = f"\n\nFailed runs: {'; '.join(errors)}." if errors else ""
    header = ("contender", "records/s", "ratio to loop", "CPU µs/record", "CPU ratio")
    header += ("startup", "rounds", "per-round ratios")
    return (
        f"### Backlog: {part['records']:,} records, {_rounds(rounds)}\n\n"
        f"One topic of 3 partitions holding {part['records']:,} JSON records of 100 bytes "
        f"(uncompressed). Each run consumes until it has {part['records']:,} records or "
        f"{part['budget']:.0f} s have passed since its first record, then gets SIGTERM; "
        "records/s count from the first record in hand to the last. CPU µs per record is the "
        "whole process's CPU time over the same span; the CPU ratio is the loop's CPU per "
        "record over the contender's (not a goal, but steadier than records/s on a loaded "
        "machine). Startup is from process start to the first record (Django setup and "
        "joining the group). Java's tool reports every 100 ms; it is timed from the end of its "
        "first report with records to its last record. The backlog is large enough that a run "
        "lasts seconds, as a long-running process does: the `confluent` adapter's second "
        "librdkafka member joins once the jobs prove fast and receives records a group "
        "heartbeat later (0.5 s on the test broker), which on a 200,000-record backlog was most "
        "of the engine's run.\n\n" + _table(header, rows) + note
    )


def render_live(part: dict) -> str:
    rows = []
    for name, label in part["contenders"].items():
        stats = [r[name] for r in part["rounds"] if r.get(name)]
        rows.append(
            (
                f"{name}: {label}",
                f"{median(s['kept_up'] for s in stats):.3f}" if stats else "—",
                fmt_ms(median(s["p50"] for s in stats)),
                fmt_ms(median(s["p99"] for s in stats)),
                "; ".join(
                    f"{s['kept_up']:.3f} / {fmt_ms(s['p50'])} / {fmt_ms(s['p99'])}" for s in stats
                ),
            )
        )
    return (
        f"### Live stream: {part['rate']:,} records/s for {part['seconds']} s\n\n"
        f"A producer writes {part['rate']:,} JSON records of 100 bytes per second (3 partitions, "
        "each record carrying its produce time) to a fresh topic once the contender consumes; "
        "kept-up is the share of the stream consumed within 1 s of the last record produced; "
        "latency is produce → consume of every stream record. The contender is stopped 3 s "
        "after the last record was produced; a percentile that falls on a record not consumed "
        "by then reads *not consumed*.\n\n"
        + _table(("contender", "kept-up", "p50", "p99", "rounds (kept-up / p50 / p99)"), rows)
        + (f"\n\nFailed runs: {'; '.join(part['errors'])}." if part.get("errors") else "")
    )


def render_scaling(part: dict) -> str:
    rows = []
    for config in part["configs"]:
        ideal = config["parallel"] / (part["job_ms"] / 1000)
        measured = rates(part["rounds"], config["name"])
        steady = _steady(part["rounds"], config["name"])
        rows.append(
            (
                config["name"],
                config["parallel"],
                fmt_rate(median(measured)),
                fmt_rate(ideal),
                fmt_ratio(median(_efficiencies(part, config))),
                fmt_rate(median([r for r in steady if r is not None])),
                fmt_ratio(median(_efficiencies(part, config, steady=True))),
                _runs(measured),
            )
        )
    return (
        f"### I/O-bound scaling: {part['job_ms']} ms jobs\n\n"
        f"`per_message` jobs that sleep {part['job_ms']} ms (a web request, say) on a backlog in "
        f"3 partitions, default adapter ({part.get('adapter', 'confluent')}); concurrency × "
        "workers_per_consumer parallel jobs, concurrency > 3 means more members than "
        "partitions. The backlog is spread evenly over the partitions (the broker gives each "
        "member only some partitions when there are more members than partitions). Ideal = "
        "parallel jobs / job time; each run holds about "
        f"{part['ideal_seconds']:.0f} s of ideal work. Records/s count from the first record to "
        "the last; the steady rate from the 10th to the 90th percentile of the completions, "
        "leaving out the ramp-up (members joining, acquisition growing) and the drain (the last "
        "members finishing what they hold).\n\n"
        + _table(
            (
                "concurrency × workers",
                "parallel",
                "records/s",
                "ideal",
                "efficiency",
                "steady records/s",
                "steady efficiency",
                "rounds",
            ),
            rows,
        )
    )


def rss_summary(samples: Sequence[Sequence[float]], startup: float | None) -> dict:
    """Resident set size (bytes) at the first record, after a tenth of the run, at most and at
    the end, from ``(seconds since start, bytes)`` samples."""
    present = [(t, b) for t, b in samples if b]
    consuming = [(t, b) for t, b in present if t >= (startup or 0.0)] or present
    if not consuming:
        return {}
    return {
        "first": consuming[0][1],
        "tenth": consuming[len(consuming) // 10][1],
        "max": max(b for _, b in consuming),
        "last": consuming[-1][1],
    }


def render_rss(part: dict) -> str:
    outcome, memory = part["outcome"], part.get("memory")
    if outcome.get("error") or not memory:
        failure = outcome.get("error") or "no samples"
        return f"### Memory over {part['records']:,} records\n\nFailed: {failure}."
    mib = {key: value / 2**20 for key, value in memory.items()}
    return (
        f"### Memory over {part['records']:,} records\n\n"
        f"`runshareconsumers`, {part['contender']}, consumed {outcome['count']:,} records in "
        f"{outcome['seconds']:.0f} s ({fmt_rate(rate(outcome))} records/s). Resident set size "
        f"of the process, sampled every second: {mib['first']:.0f} MiB at the first record, "
        f"{mib['tenth']:.0f} MiB after a tenth of the run, {mib['max']:.0f} MiB at most, "
        f"{mib['last']:.0f} MiB at the end (growth after the first tenth: "
        f"{mib['last'] - mib['tenth']:+.0f} MiB)."
    )


def _pair(part: dict, name: str, reference: str) -> tuple[str, str]:
    """The median per-round ratio of ``name`` to ``reference``, and a table of both."""
    rounds = part["rounds"]
    rows = [
        (f"{n}: {label}", fmt_rate(median(rates(rounds, n))), _runs(rates(rounds, n)))
        for n, label in part["contenders"].items()
    ]
    ratio = fmt_ratio(median(ratios(rounds, name, reference)))
    return ratio, _table(("contender", "records/s", "rounds"), rows)


def render_orm(part: dict) -> str:
    ratio, table = _pair(part, "idempotent consumer", "orm loop")
    return (
        f"### ORM: an idempotent consumer on {part['database']}\n\n"
        f"{part['records']:,} records; per record, both sides run one transaction that claims "
        "the record's ProcessedRecord row (`INSERT … ON CONFLICT DO NOTHING RETURNING`) and "
        "writes a Delivery row, then ACCEPT. "
        f"Ratio (median per round): **{ratio}**.\n\n{table}"
    )


def render_metrics(part: dict) -> str:
    rounds = part["rounds"]
    rows = []
    for name, label in part["contenders"].items():
        outcomes = [r.get(name) for r in rounds]
        cpus = [cpu_per_record(o) for o in outcomes]
        rows.append(
            (
                f"{name}: {label}",
                fmt_rate(median(rates(rounds, name))),
                "1 (reference)" if name == REFERENCE else fmt_ratio(median(ratios(rounds, name))),
                "—" if median(cpus) is None else f"{median(cpus):.2f}",
                _runs(rates(rounds, name)),
                ", ".join("—" if c is None else f"{c:.2f}" for c in cpus),
            )
        )
    throughput = ratios(rounds, ON, OFF)
    cpu = exporter_cpu_costs(rounds)
    errors = sorted({f"{n}: {o['error']}" for r in rounds for n, o in r.items() if o["error"]})
    note = f"\n\nFailed runs: {'; '.join(errors)}." if errors else ""
    header = ("contender", "records/s", "ratio to loop", "CPU µs/record", "rounds (records/s)")
    header += ("rounds (CPU µs/record)",)
    on_off = median(throughput)
    cost = median(cpu)
    return (
        f"### Metrics exporter on vs off: {part['records']:,} records, {_rounds(rounds)}\n\n"
        "The backlog part's workload and timing (each run consumes until it has "
        f"{part['records']:,} records or {part['budget']:.0f} s have passed since its first "
        "record), for `per_batch` with and without the Prometheus exporter; /metrics was "
        f"scraped every second while the exporter ran ({part['scrapes']} scrapes in all). "
        "On and off swap places every round. "
        "*Off* has no metrics listener at all (no port, summary lines off); *on* is what "
        "`--metrics-port` adds: the event counts, the summary lines, the scrapes and the "
        "broker-offsets reader.\n\n"
        + _table(header, rows)
        + f"\n\nOn / off, records/s per round: {', '.join(f'{r:.3f}' for r in throughput)} "
        f"(median **{fmt_ratio(on_off)}**). CPU per record, on / off − 1 per round: "
        f"{', '.join(f'{c:+.1%}' for c in cpu)} (median **"
        + ("—" if cost is None else f"{cost:+.1%}")
        + "**).\n\n"
        + _own_costs(part)
        + note
    )


def _own_costs(part: dict) -> str:
    costs = part.get("own_costs")
    if not costs:
        return ""
    listeners = costs["listener_us"]
    engine = median(cpu_per_record(r.get(OFF)) for r in part["rounds"])
    values = ratios(part["rounds"], ON, OFF)
    spread = max(values) - min(values) if values else 0.0
    lines = [
        (
            "The per-round ratios scatter wider than the 3 % to resolve on this loaded machine, so "
            if spread > 0.06
            else ""
        )
        + "the cost is also measured part by part, in one process with nothing in between "
        "(benchmarks/metrics.py's method): the listeners add "
        f"**{listeners['500']:.3f} µs per record** at 500 records per job "
        f"({listeners['1']:.2f} µs with one record per job); a scrape over HTTP takes "
        f"{costs['scrape_ms']:.2f} ms of CPU, a broker-offsets read "
        f"{costs['read_ms']:.2f} ms ({costs['partitions_read']} partitions)."
    ]
    for interval in (SCRAPE_INTERVAL, 1.0):
        own, share = exporter_own_us(part, interval), exporter_share(part, interval)
        if own is not None and share is not None and engine:
            lines.append(
                f"Scraped every {interval:.0f} s, at the off median of "
                f"{fmt_rate(median(rates(part['rounds'], OFF)))} records/s, that is "
                f"{own:.3f} µs per record: **{share:.2%}** of the engine's {engine:.2f} CPU µs "
                "per record."
            )
    return " ".join(lines)


def render_profile(part: dict) -> str:
    rows = [(f"{share:.1%}", f"`{frame}`") for frame, share in part["frames"]]
    threads = ", ".join(f"`{name}` {share:.0%}" for name, share in part["threads"].items())
    return (
        f"### Where `runshareconsumers` spends its time ({part['contender']})\n\n"
        f"py-spy, {part['samples']:,} samples over {part['seconds']} s of a backlog run, idle "
        f"excluded. By thread: {threads}. The functions where samples land (self time, all "
        "threads):\n\n" + _table(("share", "function (file)"), rows)
    )


def top_frames(collapsed: str, limit: int = 10) -> tuple[list, dict[str, float], int]:
    """From py-spy's raw (collapsed) output recorded with ``--threads``: the self-time shares
    of the innermost functions (a function's lines are added up: ``f (a.py:12)`` and
    ``f (a.py:30)`` count as ``f (a.py)``), the share of each thread, and the sample count."""
    counts: dict[str, int] = {}
    threads: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        frames = stack.split(";")
        if frames[0].startswith("thread ("):
            thread = frames.pop(0).split(": ", 1)[-1]
            threads[thread] = threads.get(thread, 0) + int(number)
        frame = _LINE.sub(")", frames[-1].strip()) if frames else "(no Python frame)"
        counts[frame] = counts.get(frame, 0) + int(number)
        total += int(number)
    ranked = sorted(counts.items(), key=lambda item: -item[1])[:limit]
    shares = {name: count / total for name, count in sorted(threads.items(), key=lambda i: -i[1])}
    return [(frame, count / total) for frame, count in ranked], shares, total
