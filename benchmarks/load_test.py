"""Load test on loopback: the realistic mix at 80 % of its measured saturation rate.

Mix (reliability issue): related items 50 %, cart 20 %, next purchase 20 %, events 10 %
(click events citing the last recommendation_id served, as a storefront sends them).

1. Start the service on a copy of the bundle with a fresh SQLite event store; warm up.
2. Saturation of the mix: closed-loop wrk for `--probe-seconds`; the impression backlog is
   drained afterwards (timed).
3. Minute 1: the mix at a constant 80 % of that rate until the service has been under load
   for one minute (probe included).
4. The measured run: the same rate for `--seconds` (60). The server's RSS (all its
   processes, /proc) is sampled every second from start to end.

Bounded: every wrk run stops by itself after its duration, and the measured run also after
1.1 × rate × seconds requests (a count limit in the Lua script); each server is stopped
in a `finally`.

Checks: zero failed requests (warm-up minute and measured run: socket errors, timeouts at
2 s, any status ≥ 400), p99 ≤ 10 ms (wrk's latency from each send; late sends, which
would hide queueing, are reported), RSS growth < 5 % from minute 1 (the start of the
measured run) to the end.

Run: .venv/bin/python benchmarks/load_test.py --models /tmp/m1 → benchmarks/results/load.json
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from loadgen import (
    LOAD_MIX,
    ROOT,
    SERVICE_APP,
    UVICORN_FLAGS,
    BundleSample,
    RssSampler,
    Server,
    copy_bundle,
    drain_impressions,
    free_port,
    latency_delta,
    latency_per_route,
    machine_info,
    rate_connections,
    request_lines,
    require_wrk,
    run_wrk,
    run_wrk_with_cpu,
    save_result,
    scrape_metrics,
    service_env,
    start_server,
    uvicorn_stack,
    write_lines,
)

P99_TARGET_MS: Final = 10.0
RSS_GROWTH_LIMIT: Final = 0.05
MINUTE_S: Final = 60.0
LINES: Final = 50_000
COUNT_MARGIN: Final = 1.1
MAX_LATE_SHARE: Final = 0.01  # more late sends: the server fell behind the schedule


@dataclass(frozen=True)
class Options:
    models: Path
    app: str
    app_dir: Path | None
    workers: int
    seconds: float
    probe_seconds: float
    connections: int
    share: float
    seed: int


def run_phases(server: Server, mix_file: Path, options: Options) -> dict[str, Any]:
    """Warm-up, saturation probe, minute 1 and the measured run, RSS sampled throughout."""
    run_wrk(server.base_url, mix_file, seconds=5, connections=8)
    drain_impressions(server)
    idle_rss = server.rss_mib()
    with RssSampler(server) as sampler:
        probe = run_wrk_with_cpu(
            server, mix_file, seconds=options.probe_seconds, connections=options.connections
        )
        probe_drain_s = drain_impressions(server)
        rate = options.share * probe["rps"]
        constant = {"connections": rate_connections(rate), "rate": rate, "capture": True}
        print(f"mix saturation {probe['rps']:.0f}/s; running at {rate:.0f}/s")
        minute_one_s = max(5.0, MINUTE_S - probe["seconds"] - probe_drain_s)
        minute_one = run_wrk_with_cpu(server, mix_file, seconds=minute_one_s, **constant)
        before = latency_per_route(scrape_metrics(server.base_url))
        measured_from = len(sampler.samples)
        measured = run_wrk_with_cpu(
            server,
            mix_file,
            seconds=options.seconds,
            max_requests=round(COUNT_MARGIN * rate * options.seconds),
            **constant,
        )
        after = latency_per_route(scrape_metrics(server.base_url))
        server_side = latency_delta(before, after)
        end_drain_s = drain_impressions(server)
    return {
        "idle_rss_mib": idle_rss,
        "probe": probe,
        "probe_impression_drain_s": probe_drain_s,
        "rate": round(rate, 1),
        "connections": constant["connections"],
        "minute_one": minute_one,
        "measured": measured,
        "server_side": server_side,
        "end_impression_drain_s": end_drain_s,
        "rss": rss_summary(sampler.samples, sampler.samples[measured_from:], idle_rss),
    }


def rss_summary(
    all_samples: list[tuple[float, float]], run: list[tuple[float, float]], idle: float
) -> dict[str, Any]:
    """RSS at the start and end of the measured run, its growth, and a coarse trace."""
    start, end = run[0][1], run[-1][1]
    return {
        "at_minute_one_mib": start,
        "at_end_mib": end,
        "peak_mib": max(mib for _, mib in all_samples),
        "growth_from_minute_one": round((end - start) / start, 4),
        "growth_from_idle": round((end - idle) / idle, 4),
        "trace_every_10s": all_samples[::10],
    }


def server_log_warnings(server: Server) -> dict[str, int]:
    """Lines in the server log that mean lost or refused work."""
    text = server.log_path.read_text(errors="replace")
    return {
        "impressions_not_logged": text.count("impression queue full")
        + text.count("impression not logged"),
        "tracebacks": text.count("Traceback"),
    }


def run(options: Options) -> dict[str, Any]:
    require_wrk()
    load_start = os.getloadavg()
    sample = BundleSample.from_models(options.models)
    with tempfile.TemporaryDirectory(prefix="load-test-") as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        version = copy_bundle(options.models, models)
        mix_file = write_lines(
            request_lines(sample, LOAD_MIX, LINES, options.seed), work / "mix.txt"
        )
        env = service_env(models, work, secrets.token_urlsafe(24))
        with start_server(
            "recsvc",
            options.app,
            free_port(),
            workers=options.workers,
            env=env,
            work_dir=work,
            app_dir=options.app_dir,
            ready_path="/ready",
        ) as server:
            phases = run_phases(server, mix_file, options)
            warnings = server_log_warnings(server)
    return {
        "machine": machine_info(load_start),
        "settings": {
            "models": str(options.models),
            "app": options.app,
            "version": version,
            "workers": options.workers,
            "uvicorn_flags": list(UVICORN_FLAGS),
            "uvicorn_stack": uvicorn_stack(),
            "mix": dict(LOAD_MIX),
            "load_share_of_saturation": options.share,
            "seconds": options.seconds,
            "probe_seconds": options.probe_seconds,
            "probe_connections": options.connections,
            "seed": options.seed,
        },
        **phases,
        "server_log": warnings,
        "checks": checks(phases, warnings),
    }


def checks(phases: Mapping[str, Any], warnings: Mapping[str, int]) -> dict[str, Any]:
    measured, minute_one = phases["measured"], phases["minute_one"]
    failed = measured["failed"] + minute_one["failed"]
    p99 = measured["latency_ms"]["p99"]
    growth = phases["rss"]["growth_from_minute_one"]
    return {
        "failed_requests": {"value": failed, "target": "== 0", "met": failed == 0},
        "p99_ms": {
            "value": p99,
            "target": f"<= {P99_TARGET_MS}",
            "met": p99 <= P99_TARGET_MS,
            "late_sends": measured["late_sends"],
            "schedule_kept": measured["late_sends"]
            <= MAX_LATE_SHARE * max(measured["requests"], 1),
        },
        "rss_growth_from_minute_one": {
            "value": growth,
            "target": f"< {RSS_GROWTH_LIMIT}",
            "met": growth < RSS_GROWTH_LIMIT,
        },
        "impressions_not_logged": {
            "value": warnings["impressions_not_logged"],
            "target": "== 0",
            "met": warnings["impressions_not_logged"] == 0,
        },
    }


def parse_args() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument(
        "--app", default=SERVICE_APP, help="ASGI app of the service, e.g. a patched variant"
    )
    parser.add_argument("--app-dir", type=Path, default=None, help="where --app is importable")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured run")
    parser.add_argument("--probe-seconds", type=float, default=15.0, help="saturation probe")
    parser.add_argument("--connections", type=int, default=16, help="saturation probe")
    parser.add_argument("--share", type=float, default=0.8, help="of the saturated rate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    return Options(**{name: getattr(args, name) for name in Options.__dataclass_fields__})


if __name__ == "__main__":
    outcome = run(parse_args())
    for name, check in outcome["checks"].items():
        verdict = "met" if check["met"] else "NOT met"
        print(f"{name:>28}: {check['value']} (target {check['target']}) {verdict}")
    print(f"saved {save_result('load', outcome)}")
