"""Service throughput and latency on loopback, against a bare FastAPI endpoint, in one run.

The peer: `benchmarks/bare_app.py`, one FastAPI endpoint answering a constant body shaped
like ours (10 items), under the same uvicorn settings and worker count, sent the very same
related-items requests. Both servers run side by side; wrk (one thread) drives one at a
time.

1. Bundle load time (`load_bundle` + `build_index`) and its memory, in a fresh process.
2. Saturation: closed-loop wrk, `--connections` connections, `--seconds` per endpoint, in
   `--rounds` rounds whose order rotates; each round's ratio is endpoint req/s ÷ bare req/s
   of the same round, and the figure is the median ratio. Targets: related and cart
   ≥ 0.7, next purchase ≥ 0.5.
3. Latency at half saturation: per endpoint, a closed-loop run (`--seconds`) then a
   constant rate of half of its req/s for `--half-seconds`; target p99 ≤ 10 ms (wrk
   latency from each send; late sends are reported, see benchmarks/wrk/requests.lua). The
   saturation is measured just before because the service's cost per request grows with
   the impressions the earlier runs logged for the same visitors.
4. Reload under load: the load mix (related 50 %, cart 20 %, next purchase 20 %, events
   10 %) closed-loop (`--seconds`), then at half of that run's req/s for
   `--reload-seconds`; meanwhile `current` is swapped twice to copies of the bundle and
   `POST /v1/admin/reload` called. Target: 0 failed requests and the service on the last
   copy at the end. (The mix's saturation estimated from the endpoints' medians of step 2
   is recorded too; it overestimates the mix, whose visitors have collected impressions
   by then: at half of it the mix ran at a p50 of ~60 ms before any reload.)
5. Memory: the service's RSS (all processes) idle with the bundle loaded and at its peak.
6. Serving floor (skip with `--no-floor`): the service with ranking that costs nothing
   (`benchmarks/free_ranking_app.py`: every query answered with the first one's
   recommendation, all else unchanged), in closed-loop rounds against the bare peer. Its
   ratio is the most any ranking code can reach through this serving path.
7. With `--profile-with PY_SPY`: py-spy (GIL-holding samples) over a closed-loop run of
   each endpoint, samples grouped by where the time goes (`PROFILE_RULES`).

Every run also records the server's CPU time per request (from /proc, counting only what
the server itself ran), for the service its own latency view, answer-cache hits and
garbage-collector pauses (from its /metrics), and the cores it got:
`cpu_efficiency_ratio_to_bare` compares CPU per request, which other processes on the
shared cores do not distort the way they distort req/s. `--app module:app --app-dir DIR`
benchmarks a variant of the service.

After each run against the service, one event is posted: the event route first flushes
the impression log, so the next run does not pay for this one's impression backlog (the
drain time is recorded).

Run (a bundle trained on both Online Retail years, e.g. `recsvc train --data
../shared/data/online_retail/online_retail.parquet --data
../shared/data/online_retail/online_retail_II_2009-2010.parquet --out /tmp/m1`):

    .venv/bin/python benchmarks/bench_service.py --models /tmp/m1
    → benchmarks/results/service.json
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Final

from loadgen import (
    BENCH_DIR,
    LOAD_MIX,
    ROOT,
    SERVICE_APP,
    UVICORN_FLAGS,
    BenchmarkError,
    BundleSample,
    RssSampler,
    Server,
    WrkResult,
    answer_cache_counts,
    answer_cache_delta,
    copy_bundle,
    cpu_figures,
    drain_impressions,
    free_port,
    gc_pauses_delta,
    http_json,
    latency_delta,
    latency_per_route,
    machine_info,
    rate_connections,
    request_lines,
    require_wrk,
    run_wrk,
    save_result,
    scrape_metrics,
    service_env,
    start_server,
    uvicorn_stack,
    write_lines,
)

from recsvc.artifacts import read_current, write_current

TARGETS: Final = ("bare", "related", "cart", "next_purchase", "events")
RATIO_TARGETS: Final = {"related": 0.7, "cart": 0.7, "next_purchase": 0.5}
FLOOR_TARGETS: Final = tuple(RATIO_TARGETS)
P99_TARGET_MS: Final = 10.0
LINES_PER_FILE: Final = 20_000
MAX_LATE_SHARE: Final = 0.01  # more late sends than this: the p99 is not trustworthy


@dataclass(frozen=True)
class Options:
    models: Path
    app: str
    app_dir: Path | None
    workers: int
    rounds: int
    seconds: float
    connections: int
    half_seconds: float
    reload_seconds: float
    seed: int
    profile_with: Path | None
    profile_dir: Path | None
    floor: bool


@dataclass(frozen=True)
class Setup:
    """The two servers and the request file of each target."""

    ours: Server
    bare: Server
    files: Mapping[str, Path]
    token: str
    models: Path

    def server(self, target: str) -> Server:
        return self.bare if target == "bare" else self.ours


# ---------------------------------------------------------------------------- bundle load


def _vm_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _load_phase(bundle_dir: Path, repeats: int) -> dict[str, Any]:
    """In a fresh process: time load_bundle and build_index `repeats` times."""
    import recsvc.recommend
    from recsvc.artifacts import load_bundle

    before = _vm_rss_mib()
    load_s, index_s, rss_after_first = [], [], 0.0
    for attempt in range(repeats):
        start = time.perf_counter()
        bundle = load_bundle(bundle_dir)
        loaded = time.perf_counter()
        index = recsvc.recommend.build_index(bundle)
        load_s.append(loaded - start)
        index_s.append(time.perf_counter() - loaded)
        if attempt == 0:
            rss_after_first = _vm_rss_mib()
        del bundle, index
    return {
        "repeats": repeats,
        "load_bundle_s": {"first": round(load_s[0], 3), "median": _median(load_s)},
        "build_index_s": {"first": round(index_s[0], 3), "median": _median(index_s)},
        "total_s_median": _median([a + b for a, b in zip(load_s, index_s, strict=True)]),
        "rss_mib_after_imports": before,
        "rss_mib_with_one_bundle": rss_after_first,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def measure_bundle_load(bundle_dir: Path, repeats: int = 3) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_load_phase, bundle_dir, repeats).result()


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


# ---------------------------------------------------------------------------- runs


def measured_run(
    setup: Setup, target: str, run: Callable[[Server, Path], WrkResult]
) -> dict[str, Any]:
    """One wrk run against `target`, with the server's CPU time (the service's includes
    writing this run's impressions: it is measured after the drain), and for the service
    its own latency view."""
    server = setup.server(target)
    own_view = server is setup.ours
    before = scrape_metrics(server.base_url) if own_view else []
    cpu_before = server.cpu_seconds()
    result = run(server, setup.files[target]).to_dict()
    if own_view:
        result["impression_drain_s"] = drain_impressions(setup.ours)
        after = scrape_metrics(server.base_url)
        result["server_side"] = latency_delta(latency_per_route(before), latency_per_route(after))
        result["answer_cache"] = answer_cache_delta(
            answer_cache_counts(before), answer_cache_counts(after)
        )
        result["gc_pauses"] = gc_pauses_delta(before, after)
    return result | cpu_figures(server.cpu_seconds() - cpu_before, result)


def closed_loop(server: Server, file: Path, *, options: Options) -> WrkResult:
    return run_wrk(server.base_url, file, seconds=options.seconds, connections=options.connections)


def saturation(setup: Setup, options: Options) -> dict[str, Any]:
    """Closed-loop rounds; ratios to the bare endpoint of the same round."""
    result = closed_loop_rounds(setup, options, TARGETS, "round")
    result["median_rps"] = {
        target: round(statistics.median(r["runs"][target]["rps"] for r in result["rounds"]), 1)
        for target in TARGETS
    }
    return result


def closed_loop_rounds(
    setup: Setup, options: Options, targets: tuple[str, ...], label: str
) -> dict[str, Any]:
    """`options.rounds` rounds of one closed-loop run per target ("bare" first, the order
    rotating by one each round), with each endpoint's ratios to the bare run of its round."""
    closed = partial(closed_loop, options=options)
    rounds: list[dict[str, Any]] = []
    for number in range(options.rounds):
        order = targets[number % len(targets) :] + targets[: number % len(targets)]
        runs = {target: measured_run(setup, target, closed) for target in order}
        rounds.append({"order": list(order), "runs": runs})
        print(f"{label} {number + 1}: " + ", ".join(f"{t} {runs[t]['rps']:.0f}/s" for t in order))
    endpoints = targets[1:]
    return {
        "rounds": rounds,
        "ratio_to_bare": ratios_to_bare(rounds, lambda run: run["rps"], endpoints),
        "cpu_efficiency_ratio_to_bare": ratios_to_bare(
            rounds, lambda run: 1.0 / run["server_cpu_us_per_request"], endpoints
        ),
    }


def ratios_to_bare(
    rounds: list[dict[str, Any]],
    figure: Callable[[Mapping[str, Any]], float],
    targets: tuple[str, ...],
) -> dict[str, Any]:
    """Per endpoint: `figure` of its run ÷ `figure` of the bare run, per round and median."""
    ratios: dict[str, Any] = {}
    for target in targets:
        per_round = [figure(r["runs"][target]) / figure(r["runs"]["bare"]) for r in rounds]
        ratios[target] = {
            "per_round": [round(x, 3) for x in per_round],
            "median": round(statistics.median(per_round), 3),
        }
    return ratios


def half_saturation(setup: Setup, options: Options) -> dict[str, Any]:
    """Each target at a constant half of its saturated rate, measured by a closed-loop run
    just before: the service's cost per request grows with what the earlier runs left in
    the event store (the same visitors shown lists again and again, so more impressions
    to count and more fatigued items), so half of an earlier round's rate can be close to
    saturation by now."""
    results = {}
    for target in TARGETS:
        before = measured_run(setup, target, partial(closed_loop, options=options))

        def constant(server: Server, file: Path, rate: float = before["rps"] / 2) -> WrkResult:
            return run_wrk(
                server.base_url,
                file,
                seconds=options.half_seconds,
                connections=rate_connections(rate),
                rate=rate,
            )

        results[target] = measured_run(setup, target, constant) | {"saturated_just_before": before}
        latency = results[target]["latency_ms"]
        print(
            f"{target} at {before['rps'] / 2:.0f}/s (saturated {before['rps']:.0f}/s just"
            f" before): p50 {latency['p50']} ms, p99 {latency['p99']} ms"
        )
    return results


def mix_rate(median_rps: Mapping[str, float], mix: Mapping[str, float]) -> float:
    """Estimated saturated rate of `mix`: each request costs 1 / (its endpoint's rate)."""
    total = sum(mix.values())
    return 1.0 / sum(share / total / median_rps[name] for name, share in mix.items())


def reload_under_load(setup: Setup, options: Options, rate: float) -> dict[str, Any]:
    """Two swaps of `current` to fresh copies of the bundle, each followed by an admin
    reload, while the load mix runs at `rate` (copies are made before the load starts)."""
    original = read_current(setup.models)
    copies = [
        copy_bundle(setup.models, setup.models, f"{original}-reload-{n}", point=False)
        for n in ("a", "b")
    ]
    outcome: dict[str, WrkResult] = {}

    def load() -> None:
        outcome["wrk"] = run_wrk(
            setup.ours.base_url,
            setup.files["mix"],
            seconds=options.reload_seconds,
            connections=rate_connections(rate),
            rate=rate,
            capture=True,
        )

    runner = threading.Thread(target=load, name="reload-load")
    started = time.monotonic()
    runner.start()
    reloads = []
    for fraction, version in zip((0.3, 0.65), copies, strict=True):
        time.sleep(max(0.0, started + options.reload_seconds * fraction - time.monotonic()))
        reloads.append(swap_and_reload(setup, version, started))
    runner.join()
    if "wrk" not in outcome:
        raise BenchmarkError("the load run during the reloads did not finish")
    _, ready = http_json("GET", setup.ours.base_url + "/ready")
    serving = (ready or {}).get("model_version")
    failed_reloads = sum(r["status"] != 200 or r["outcome"] != "swapped" for r in reloads)
    return {
        "rate": round(rate, 1),
        "reloads": reloads,
        "serving_at_end": serving,
        "swapped_to_last": serving == copies[-1],
        "failed_requests": outcome["wrk"].failed + failed_reloads,
        "wrk": outcome["wrk"].to_dict(),
    }


def swap_and_reload(setup: Setup, version: str, load_started: float) -> dict[str, Any]:
    """Point `current` at `version` and ask the service to reload; time both."""
    start = time.perf_counter()
    write_current(setup.models, version)
    status, body = http_json(
        "POST", setup.ours.base_url + "/v1/admin/reload", {}, token=setup.token, timeout=120
    )
    return {
        "to": version,
        "at_s": round(time.monotonic() - load_started, 1),
        "status": status,
        "outcome": (body or {}).get("outcome"),
        "seconds": round(time.perf_counter() - start, 3),
    }


def serving_floor(setup: Setup, options: Options) -> dict[str, Any]:
    """The service with ranking that costs nothing (`benchmarks/free_ranking_app.py`), in
    closed-loop rounds against the bare peer like `saturation`: the most any ranking code
    can reach through this serving path. Its own server and event store; stopped after."""
    work = setup.models.parent / "free-ranking"
    work.mkdir(exist_ok=True)
    floor = start_server(
        "free-ranking",
        "free_ranking_app:app",
        free_port(),
        workers=options.workers,
        env=service_env(setup.models, work, setup.token),
        work_dir=work,
        app_dir=BENCH_DIR,
        ready_path="/ready",
    )
    with floor:
        for target in FLOOR_TARGETS:
            run_wrk(floor.base_url, setup.files[target], seconds=3, connections=8)
        drain_impressions(floor)
        rounds = closed_loop_rounds(
            replace(setup, ours=floor), options, ("bare", *FLOOR_TARGETS), "serving floor, round"
        )
    return {"app": "free_ranking_app:app"} | rounds


# ---------------------------------------------------------------------------- profile

PROFILE_RULES: Final = (
    # (substring of a frame "function (path:line)", category). Walking from the leaf, the
    # first frame that matches a rule decides; library frames without a rule (numpy,
    # pydantic) and the TRANSPARENT helpers count for the code that called them.
    ("record_impression", "impression log: SQLite write (background thread)"),
    ("events/writer.py", "impression log: SQLite write (background thread)"),
    ("add_events", "event store: write events"),
    ("recsvc/events/models.py", "impression record: build and enqueue"),
    ("recsvc/events/", "event store: reads (recent activity, fatigue)"),
    ("Recommender._log", "impression record: build and enqueue"),
    ("recsvc/recommend/", "ranking (recsvc.recommend)"),
    ("recsvc/experiments.py", "service: arm assignment, hashing"),
    ("recsvc/hashing.py", "service: arm assignment, hashing"),
    ("recsvc/service.py", "service: other (uuid, clock, bookkeeping)"),
    ("serialize_response", "response: validation and serialisation (FastAPI)"),
    ("respond (", "response: building RecommendedItem models"),
    ("recsvc/api/routes/", "route handler: queries and context"),
    ("recsvc/api/deps.py", "request parsing, validation, dependencies"),
    ("fastapi/dependencies/", "request parsing, validation, dependencies"),
    ("run_in_threadpool", "threadpool hops (sync dependencies and routes)"),
    ("anyio/", "threadpool hops (sync dependencies and routes)"),
    ("recsvc/api/middleware.py", "middleware: request id, body limit, metrics"),
    ("prometheus_client/", "middleware: request id, body limit, metrics"),
    ("fastapi/", "framework: routing, exception and middleware stack"),
    ("starlette/", "framework: routing, exception and middleware stack"),
    ("uvicorn/", "HTTP server (uvicorn)"),
    ("asyncio/", "event loop and sockets"),
    ("uvloop", "event loop and sockets"),
)


TRANSPARENT: Final = ("fastapi/_compat/", "fastapi/encoders.py", "contextlib.py", "functools.py")


def categorise(stack: str) -> str:
    """The category of one collapsed py-spy stack ("frame;frame;...", root first)."""
    for frame in reversed(stack.split(";")):
        if any(helper in frame for helper in TRANSPARENT):
            continue
        for needle, category in PROFILE_RULES:
            if needle in frame:
                return category
    return "other"


def profile_breakdown(raw: Path, top: int = 15) -> dict[str, Any]:
    """From py-spy's raw (collapsed) output: the share of samples per category, and the
    `top` functions of recsvc by inclusive share (a function counted once per sample)."""
    counts: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack:
            continue
        samples = int(number)
        total += samples
        category = categorise(stack)
        counts[category] = counts.get(category, 0) + samples
        for function in {_function(frame) for frame in stack.split(";") if "recsvc/" in frame}:
            inclusive[function] = inclusive.get(function, 0) + samples
    total = max(total, 1)
    return {
        "samples": total,
        "share": {k: round(v / total, 4) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])},
        "recsvc_functions_inclusive": {
            k: round(v / total, 4)
            for k, v in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]
        },
    }


def _function(frame: str) -> str:
    """ "blend (recsvc/recommend/blend.py:137)" -> "recsvc/recommend/blend.py:blend"."""
    name, _, where = frame.partition(" (")
    return f"{where.rsplit(':', 1)[0]}:{name}"


def profile_endpoints(
    setup: Setup, options: Options, py_spy: Path, median_rps: Mapping[str, float]
) -> dict[str, Any]:
    """py-spy (GIL-holding samples only, 100 Hz, non-blocking) over a closed-loop run of
    each endpoint; shares per category and µs per request at the unprofiled saturated
    rate (share × 1e6 / req/s: meaningful with one worker, whose GIL is the bottleneck)."""
    profiles: dict[str, Any] = {}
    for target in ("bare", "related", "cart", "next_purchase", "events"):
        server = setup.server(target)
        raw = (options.profile_dir or server.log_path.parent) / f"profile-{target}.txt"
        raw.parent.mkdir(parents=True, exist_ok=True)
        command = [str(py_spy), "record", "--gil", "--nonblocking", "-r", "100", "-f", "raw"]
        command += ["-d", str(round(options.seconds)), "-p", str(server.process.pid)]
        command += ["-o", str(raw)]
        with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as spy:
            time.sleep(1.0)  # let py-spy attach
            run_wrk(
                server.base_url,
                setup.files[target],
                seconds=options.seconds,
                connections=options.connections,
            )
            _, error = spy.communicate(timeout=60)
        if not raw.is_file():
            raise BenchmarkError(f"py-spy wrote no profile: {error.decode(errors='replace')}")
        breakdown = profile_breakdown(raw)
        shares = breakdown["share"]
        per_request_us = 1e6 / median_rps[target]
        profiles[target] = {
            "us_per_request_unprofiled": round(per_request_us, 1),
            "us_per_request": {k: round(v * per_request_us, 1) for k, v in shares.items()},
            **breakdown,
        }
        if server is setup.ours:
            drain_impressions(setup.ours)
        top = ", ".join(f"{k} {v:.0%}" for k, v in list(shares.items())[:4])
        print(f"profile {target}: {top}")
    return profiles


# ---------------------------------------------------------------------------- main


def start_servers(options: Options, work: Path, models: Path, token: str) -> tuple[Server, Server]:
    """The service and the bare peer, same uvicorn settings and worker count."""
    env = service_env(models, work, token)
    if options.workers > 1:
        env["RECSVC_RELOAD_POLL_SECONDS"] = "1"  # an admin reload reaches one worker only
    started = time.perf_counter()
    ours = start_server(
        "recsvc",
        options.app,
        free_port(),
        workers=options.workers,
        env=env,
        work_dir=work,
        app_dir=options.app_dir,
        ready_path="/ready",
    )
    ours_ready_s = time.perf_counter() - started
    try:
        bare = start_server(
            "bare",
            "bare_app:app",
            free_port(),
            workers=options.workers,
            env={},
            work_dir=work,
            app_dir=BENCH_DIR,
        )
    except BaseException:
        ours.stop()
        raise
    print(f"service ready in {ours_ready_s:.1f} s (pid {ours.process.pid}), bare peer ready")
    return ours, bare


def request_files(work: Path, sample: BundleSample, seed: int) -> dict[str, Path]:
    """One request file per target (the bare peer gets the related requests) and the mix."""
    files = {
        name: write_lines(
            request_lines(sample, {name: 1.0}, LINES_PER_FILE, seed), work / f"{name}.txt"
        )
        for name in TARGETS[1:]
    }
    files["bare"] = files["related"]
    files["mix"] = write_lines(
        request_lines(sample, LOAD_MIX, LINES_PER_FILE, seed), work / "mix.txt"
    )
    return files


def warm_up(setup: Setup) -> None:
    for target in TARGETS:
        run_wrk(setup.server(target).base_url, setup.files[target], seconds=3, connections=8)
    drain_impressions(setup.ours)


def run(options: Options) -> dict[str, Any]:
    require_wrk()
    load_start = os.getloadavg()
    sample = BundleSample.from_models(options.models)
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        version = copy_bundle(options.models, models)
        bundle_load = measure_bundle_load(models / version)
        print(f"bundle load: {bundle_load}")
        token = secrets.token_urlsafe(24)
        ours, bare = start_servers(options, work, models, token)
        with ours, bare:
            setup = Setup(ours, bare, request_files(work, sample, options.seed), token, models)
            memory: dict[str, Any] = {
                "service_rss_mib_idle": ours.rss_mib(),
                "bare_rss_mib_idle": bare.rss_mib(),
            }
            warm_up(setup)
            with RssSampler(ours) as sampler:
                saturated = saturation(setup, options)
                half = half_saturation(setup, options)
                mix_saturation = mix_rate(saturated["median_rps"], LOAD_MIX)
                mix_closed = closed_loop(setup.ours, setup.files["mix"], options=options)
                drain_impressions(setup.ours)
                print(f"load mix saturated at {mix_closed.rps:.0f}/s")
                reload = reload_under_load(setup, options, mix_closed.rps / 2)
                profiles = (
                    profile_endpoints(setup, options, options.profile_with, saturated["median_rps"])
                    if options.profile_with
                    else None
                )
            memory |= {
                "service_rss_mib_peak": sampler.peak(),
                "service_rss_mib_end": ours.rss_mib(),
            }
            floor = serving_floor(setup, options) if options.floor else None
    return {
        "machine": machine_info(load_start),
        "settings": {
            "models": str(options.models),
            "app": options.app,
            "version": version,
            "n_items": len(sample.item_ids),
            "n_users": len(sample.user_ids),
            "workers": options.workers,
            "uvicorn_flags": list(UVICORN_FLAGS),
            "uvicorn_stack": uvicorn_stack(),
            "closed_loop_connections": options.connections,
            "rounds": options.rounds,
            "seconds_per_run": options.seconds,
            "half_saturation_seconds": options.half_seconds,
            "k": 10,
            "seed": options.seed,
        },
        "bundle_load": bundle_load,
        "memory": memory,
        "saturation": saturated,
        "half_saturation": half,
        "load_mix": dict(LOAD_MIX),
        "mix_saturation_estimate_rps": round(mix_saturation, 1),
        "mix_saturated_just_before_reload": mix_closed.to_dict(),
        "reload_under_load": reload,
        "profile": profiles,
        "serving_floor": floor,
        "targets": targets(saturated, half, reload),
    }


def targets(
    saturated: Mapping[str, Any], half: Mapping[str, Any], reload: Mapping[str, Any]
) -> dict[str, Any]:
    """Each target of the service issue with its measured value and whether it is met."""
    checks: dict[str, Any] = {}
    for name, floor in RATIO_TARGETS.items():
        ratio = saturated["ratio_to_bare"][name]["median"]
        checks[f"{name}_rps_ratio"] = {
            "value": ratio,
            "target": f">= {floor}",
            "met": ratio >= floor,
        }
    for name in RATIO_TARGETS:
        run_ = half[name]
        trusted = run_["late_sends"] <= MAX_LATE_SHARE * max(run_["requests"], 1)
        p99 = run_["latency_ms"]["p99"]
        checks[f"{name}_p99_ms_at_half_saturation"] = {
            "value": p99,
            "target": f"<= {P99_TARGET_MS}",
            "met": p99 <= P99_TARGET_MS and run_["failed"] == 0,
            "schedule_kept": trusted,
        }
    checks["reload_failed_requests"] = {
        "value": reload["failed_requests"],
        "target": "== 0 and serving the new bundle",
        "met": reload["failed_requests"] == 0 and reload["swapped_to_last"],
    }
    return checks


def parse_args() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument(
        "--app", default=SERVICE_APP, help="ASGI app of the service, e.g. a patched variant"
    )
    parser.add_argument("--app-dir", type=Path, default=None, help="where --app is importable")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="per saturation run")
    parser.add_argument("--connections", type=int, default=16, help="closed-loop runs")
    parser.add_argument("--half-seconds", type=float, default=20.0)
    parser.add_argument("--reload-seconds", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile-with",
        type=Path,
        default=None,
        help="path of a py-spy binary: also profile each endpoint (pip install py-spy)",
    )
    parser.add_argument(
        "--profile-dir", type=Path, default=None, help="keep py-spy's raw profiles here"
    )
    parser.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="skip the serving-floor phase (the service with ranking that costs nothing)",
    )
    args = parser.parse_args()
    return Options(**{name: getattr(args, name) for name in Options.__dataclass_fields__})


def print_summary(result: Mapping[str, Any]) -> None:
    for name, check in result["targets"].items():
        verdict = "met" if check["met"] else "NOT met"
        print(f"{name:>40}: {check['value']} (target {check['target']}) {verdict}")
    print(f"memory: {result['memory']}")
    if result["serving_floor"]:
        floor = result["serving_floor"]["ratio_to_bare"]
        ratios = ", ".join(f"{name} {ratio['median']}" for name, ratio in floor.items())
        print(f"serving floor (ranking that costs nothing), ratio to bare: {ratios}")


if __name__ == "__main__":
    outcome = run(parse_args())
    print_summary(outcome)
    print(f"saved {save_result('service', outcome)}")
