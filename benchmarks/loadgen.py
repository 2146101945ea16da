"""Shared machinery of the service benchmarks: servers under uvicorn, wrk runs, request sets.

The load generator is wrk (Debian's `wrk` 4.1, `apt-get install -y wrk`) with
`benchmarks/wrk/requests.lua`: a C event loop that costs a few percent of one core where a
Python client would take a core of the two the server needs. Closed-loop runs (no rate)
measure saturation; constant-rate runs schedule sends with the Lua script's slot
schedule and report late sends, so coordinated omission is visible instead of hidden.

Servers are started as `python -m uvicorn APP --host 127.0.0.1 --port P --workers N
--log-level warning --no-access-log`, the settings `recsvc serve` passes to `uvicorn.run`,
in their own session so that `Server.stop` ends exactly that process group.

Request sets are drawn from the bundle being served (seeded): product pages in proportion
to how many customers bought the item (plus one, so every catalog item can appear), carts of
1–4 items from one customer's purchase history, shoppers uniformly from the user id map.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote

import numpy as np

from recsvc.artifacts import read_current, write_current

ROOT: Final = Path(__file__).resolve().parents[1]
BENCH_DIR: Final = ROOT / "benchmarks"
RESULTS_DIR: Final = BENCH_DIR / "results"
WRK_SCRIPT: Final = BENCH_DIR / "wrk" / "requests.lua"
HOST: Final = "127.0.0.1"
SERVICE_APP: Final = "recsvc.main:app"
UVICORN_FLAGS: Final = ("--log-level", "warning", "--no-access-log")
"""The flags `recsvc serve` gives uvicorn.run (log_level="warning", access_log=False)."""

ENDPOINTS: Final = ("related", "cart", "next_purchase", "events")
LOAD_MIX: Final[Mapping[str, float]] = {
    "related": 0.5,
    "cart": 0.2,
    "next_purchase": 0.2,
    "events": 0.1,
}
"""The realistic mix of the reliability issue: share of requests per endpoint."""


class BenchmarkError(RuntimeError):
    """A benchmark could not run (missing tool, server that never became ready, bad output)."""


# ---------------------------------------------------------------------------- servers


@dataclass
class Server:
    """One uvicorn server process group started by `start_server`."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss_mib(self) -> float:
        """Resident memory of the server and its worker processes, from /proc (MiB)."""
        return tree_rss_mib(self.process.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its worker processes so far."""
        return tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it has not exited after 10 s."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
        if error is not None:  # the log lives in a temporary directory: show its end now
            tail = self.log_path.read_text(errors="replace").splitlines()[-30:]
            print(f"--- last lines of the {self.name} log", *tail, sep="\n", file=sys.stderr)


def start_server(
    name: str,
    app: str,
    port: int,
    *,
    workers: int,
    env: Mapping[str, str],
    work_dir: Path,
    app_dir: Path | None = None,
    ready_path: str = "/health",
    timeout: float = 180.0,
) -> Server:
    """Start `app` under uvicorn with the `recsvc serve` flags and wait until `ready_path`
    answers 200. `work_dir` is its working directory (no stray `.env` is read) and holds
    its log. Raises `BenchmarkError` (after stopping it) if it exits or is not ready."""
    command = [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers), *UVICORN_FLAGS]
    if app_dir is not None:
        command += ["--app-dir", str(app_dir)]
    log_path = work_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=work_dir,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, port, process, log_path)
    try:
        _wait_ready(server, ready_path, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: Server, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log_path.read_text(errors="replace")[-2000:]
            raise BenchmarkError(f"{server.name} exited with {server.process.returncode}: {tail}")
        status, _ = http_json("GET", server.base_url + path, timeout=2.0)
        if status == 200:
            return
        time.sleep(0.3)
    raise BenchmarkError(f"{server.name} not ready on {path} after {timeout:.0f} s")


def tree_rss_mib(pid: int) -> float:
    """VmRSS of `pid` and all its descendants (uvicorn's worker processes), in MiB."""
    total_kib = 0
    for member in _process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue  # exited between listing and reading
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return round(total_kib / 1024, 1)


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime (all threads) of `pid` and its descendants, from /proc/<pid>/stat."""
    ticks = 0
    for member in _process_tree(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 is fields[0]
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    return ticks / os.sysconf("SC_CLK_TCK")


def _process_tree(pid: int) -> list[int]:
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return tree


@dataclass
class RssSampler:
    """Samples a server's RSS every `interval` seconds in a background thread."""

    server: Server
    interval: float = 1.0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MiB)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        start = time.monotonic()

        def run() -> None:
            while True:
                self.samples.append((round(time.monotonic() - start, 2), self.server.rss_mib()))
                if self._stop.wait(self.interval):
                    return

        self._thread = threading.Thread(target=run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def peak(self) -> float:
        return max((mib for _, mib in self.samples), default=0.0)


def machine_info(load_start: Sequence[float]) -> dict[str, Any]:
    """Cores and load averages around a run: the context every result file records."""
    return {
        "cores": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in load_start],
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "note": "2 cores shared with other engineers' test runs; wrk runs on them too",
    }


def free_port() -> int:
    """A TCP port on the loopback that is free right now."""
    import socket

    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def http_json(
    method: str,
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    timeout: float = 60.0,
) -> tuple[int, Any]:
    """(status, decoded JSON or None) of one request; status 0 when nothing answered."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _decode(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _decode(error.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, None


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def service_env(models_dir: Path, work_dir: Path, admin_token: str) -> dict[str, str]:
    """Environment of a benchmarked recsvc: a SQLite event store in `work_dir`, reload
    polling off (reloads are explicit), and the bundle's clock, so that next-purchase
    ranks the historical data as if it were current (as a fresh nightly bundle is)."""
    return {
        "RECSVC_DEV_MODE": "true",
        "RECSVC_MODELS_DIR": str(models_dir),
        "RECSVC_EVENT_STORE_URL": f"sqlite:///{work_dir / 'events.db'}",
        "RECSVC_RELOAD_POLL_SECONDS": "0",
        "RECSVC_ADMIN_TOKEN": admin_token,
        "RECSVC_CLOCK": "bundle",
    }


def copy_bundle(
    source_models: Path, target_models: Path, version: str | None = None, *, point: bool = True
) -> str:
    """Copy the bundle `source_models/current` names into `target_models` as `version`
    (default: its own version); with `point`, move `target_models/current` to it.

    The manifest's `version` is rewritten to the new name; the manifest is not among the
    checksummed files, so the copy is a valid bundle the service tells apart from the
    original. Returns the version written.
    """
    original = read_current(source_models)
    version = version or original
    target = target_models / version
    shutil.copytree(source_models / original, target)
    manifest_path = target / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["version"] = version
    manifest_path.write_text(json.dumps(manifest, indent=1))
    if point:
        write_current(target_models, version)
    return version


def drain_impressions(server: Server, *, limit_s: float = 300.0) -> float:
    """Post one event until it is accepted; seconds it took. The event route first flushes
    the impression log and answers 503 while the backlog takes longer than its flush
    timeout; no answer at all (status 0: timeout, reset) is retried too, within `limit_s`."""
    start = time.perf_counter()
    event = {
        "event_id": f"drain-{secrets.token_hex(8)}",
        "type": "view",
        "session_id": "bench-drain",
        "item_id": "drain",
        "timestamp": "2026-01-01T00:00:00Z",
    }
    seen: list[int] = []
    while time.perf_counter() - start < limit_s:
        status, _ = http_json(
            "POST", server.base_url + "/v1/events", {"events": [event]}, timeout=30.0
        )
        if status == 200:
            return round(time.perf_counter() - start, 3)
        if status not in (0, 503):
            raise BenchmarkError(f"draining the impression log: status {status}")
        seen.append(status)
        time.sleep(0.2)
    raise BenchmarkError(f"the impression log did not drain within {limit_s:.0f} s: {seen}")


def uvicorn_stack() -> dict[str, str]:
    """Which event loop and HTTP parser uvicorn's "auto" picks in this environment."""
    import importlib.util

    return {
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
    }


# ---------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class BundleSample:
    """Ids to request, drawn from a bundle: item ids with their draw weights, users'
    purchase histories (CSR over item indices), user ids."""

    item_ids: np.ndarray
    item_weights: np.ndarray
    user_ids: np.ndarray
    history_indptr: np.ndarray
    history_items: np.ndarray

    @classmethod
    def from_models(cls, models_dir: Path) -> BundleSample:
        bundle = models_dir / read_current(models_dir)

        def array(name: str) -> np.ndarray:
            loaded: np.ndarray = np.load(bundle / name, allow_pickle=False)
            return loaded

        item_ids = array("catalog/item_ids.npy")
        history_items = array("users/history_items.npy").astype(np.int64)
        buyers = np.bincount(history_items, minlength=len(item_ids)).astype(np.float64)
        return cls(
            item_ids=item_ids,
            item_weights=(buyers + 1.0) / (buyers + 1.0).sum(),
            user_ids=array("users/user_ids.npy"),
            history_indptr=array("users/history_indptr.npy").astype(np.int64),
            history_items=history_items,
        )

    def items(self, rng: np.random.Generator, n: int) -> list[str]:
        """`n` product-page item ids, drawn in proportion to buyers + 1."""
        picks = rng.choice(len(self.item_ids), size=n, p=self.item_weights)
        return [str(self.item_ids[i]) for i in picks]

    def users(self, rng: np.random.Generator, n: int) -> list[str]:
        return [str(self.user_ids[i]) for i in rng.integers(0, len(self.user_ids), n)]

    def carts(self, rng: np.random.Generator, n: int) -> list[list[str]]:
        """`n` carts of 1–4 distinct items bought by one customer (a plausible basket)."""
        sizes = np.diff(self.history_indptr)
        owners = np.flatnonzero(sizes > 0)
        carts = []
        for owner in rng.choice(owners, size=n):
            bought = self.history_items[self.history_indptr[owner] : self.history_indptr[owner + 1]]
            size = min(int(rng.integers(1, 5)), len(bought))
            picks = rng.choice(bought, size=size, replace=False)
            carts.append([str(self.item_ids[i]) for i in picks])
        return carts


def request_lines(
    sample: BundleSample, mix: Mapping[str, float], n: int, seed: int, *, k: int = 10
) -> list[str]:
    """`n` request lines for `benchmarks/wrk/requests.lua`, endpoints in proportion to
    `mix` (names from `ENDPOINTS`), shuffled with `seed`."""
    unknown = set(mix) - set(ENDPOINTS)
    if unknown:
        raise BenchmarkError(f"unknown endpoints {sorted(unknown)}; known: {ENDPOINTS}")
    rng = np.random.default_rng(seed)
    total = sum(mix.values())
    counts = {name: round(n * share / total) for name, share in mix.items()}
    lines: list[str] = []
    for item in sample.items(rng, counts.get("related", 0)):
        lines.append(f"GET\t/v1/items/{quote(item, safe='')}/related?k={k}\t")
    for cart in sample.carts(rng, counts.get("cart", 0)):
        lines.append(f"POST\t/v1/cart/recommendations\t{json.dumps({'items': cart, 'k': k})}")
    for user in sample.users(rng, counts.get("next_purchase", 0)):
        lines.append(f"GET\t/v1/users/{quote(user, safe='')}/recommendations?k={k}\t")
    n_events = counts.get("events", 0)
    for user, item in zip(sample.users(rng, n_events), sample.items(rng, n_events), strict=True):
        lines.append(f"EVENT\t{json.dumps(user)}\t{json.dumps(item)}")
    order = rng.permutation(len(lines))
    return [lines[i] for i in order]


def write_lines(lines: Sequence[str], path: Path) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------- wrk


@dataclass(frozen=True)
class WrkResult:
    """One wrk run. Latencies in ms, measured by wrk from each request's send."""

    seconds: float
    requests: int
    rps: float
    target_rate: float | None
    errors: dict[str, int]
    latency_ms: dict[str, float]
    late_sends: int
    max_late_ms: float
    events_sent: int
    events_attributed: int

    @property
    def failed(self) -> int:
        """Requests that got no answer, a socket error, a timeout or a status ≥ 400."""
        return sum(self.errors.values())

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed}


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchmarkError("wrk is not installed: apt-get install -y wrk")
    return path


def run_wrk(
    base_url: str,
    requests_file: Path,
    *,
    seconds: float,
    connections: int,
    rate: float | None = None,
    capture: bool = False,
    max_requests: int | None = None,
    timeout_seconds: float = 2.0,
) -> WrkResult:
    """Run wrk (one thread) over the lines of `requests_file` for `seconds`.

    `rate` None: closed loop (saturation). Otherwise sends are scheduled at `rate`/s; size
    `connections` so that several stay idle (late sends show when they do not).
    `max_requests` stops the run early after that many requests (a safety bound).
    """
    env = {
        **os.environ,
        "WRK_REQUESTS": str(requests_file),
        "WRK_RATE": f"{rate:.3f}" if rate else "0",
        "WRK_THREADS": "1",
        "WRK_CAPTURE": "1" if capture else "0",
        "WRK_MAX_REQUESTS": str(max_requests or 0),
        "WRK_RUN_ID": uuid.uuid4().hex[:12],
    }
    duration = max(1, round(seconds))
    command = [require_wrk(), "-t1", f"-c{connections}", f"-d{duration}s"]
    command += [f"--timeout={timeout_seconds:g}s", "-s", str(WRK_SCRIPT), base_url + "/"]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration + 120, check=False
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise BenchmarkError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    elapsed = raw["duration_us"] / 1e6
    return WrkResult(
        seconds=round(elapsed, 2),
        requests=raw["requests"],
        rps=round(raw["requests"] / elapsed, 1),
        target_rate=round(rate, 1) if rate else None,
        errors=raw["errors"],
        latency_ms={key: round(value / 1000, 3) for key, value in raw["latency_us"].items()},
        late_sends=raw["late"],
        max_late_ms=round(raw["max_late_us"] / 1000, 3),
        events_sent=raw["events_sent"],
        events_attributed=raw["attributed"],
    )


def cpu_figures(cpu_s: float, result: Mapping[str, Any]) -> dict[str, float]:
    """Server CPU per request (robust to contention: it counts only what the server ran)
    and the cores it got (below 1 with one worker: other processes took the CPU)."""
    return {
        "server_cpu_s": round(cpu_s, 2),
        "server_cpu_us_per_request": round(1e6 * cpu_s / max(result["requests"], 1), 1),
        "server_cores_used": round(cpu_s / result["seconds"], 2),
    }


def run_wrk_with_cpu(server: Server, requests_file: Path, **options: Any) -> dict[str, Any]:
    """`run_wrk` against `server` (same keyword options), with `cpu_figures` added."""
    cpu_before = server.cpu_seconds()
    result = run_wrk(server.base_url, requests_file, **options).to_dict()
    return result | cpu_figures(server.cpu_seconds() - cpu_before, result)


def rate_connections(rate: float, *, latency_budget_s: float = 0.05, floor: int = 16) -> int:
    """Connections for a constant-rate run: enough that `rate` requests each taking up to
    `latency_budget_s` leave most connections idle (Little's law × 4), at least `floor`."""
    return max(floor, min(512, int(rate * latency_budget_s * 4)))


# ---------------------------------------------------------------------------- metrics


Sample = tuple[str, dict[str, str], float]
"""One line of the Prometheus text format: (name, labels, value)."""


def scrape_metrics(base_url: str) -> list[Sample]:
    """Every sample of the service's `/metrics`."""
    request = urllib.request.Request(base_url + "/metrics")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    samples: list[Sample] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, value = line.rsplit(" ", 1)
        name, _, labels = name_labels.partition("{")
        parts = (part.split("=", 1) for part in labels.rstrip("}").split(",") if part)
        samples.append((name, {k: v.strip('"') for k, v in parts}, float(value)))
    return samples


def histogram_by(samples: Sequence[Sample], name: str, label: str) -> dict[str, dict[str, float]]:
    """Histogram `name` per value of `label`: count, sum, and cumulative bucket counts
    (`le` → count, keyed `le_<bound>`)."""
    per_value: dict[str, dict[str, float]] = {}
    for sample, labels, value in samples:
        if not sample.startswith(name + "_"):
            continue
        entry = per_value.setdefault(labels.get(label, ""), {})
        if sample.endswith("_bucket"):
            entry[f"le_{labels['le']}"] = value
        elif sample.endswith("_count"):
            entry["count"] = value
        elif sample.endswith("_sum"):
            entry["sum"] = value
    return per_value


def latency_per_route(samples: Sequence[Sample]) -> dict[str, dict[str, float]]:
    """The service's own request histogram per endpoint route."""
    return histogram_by(samples, "recsvc_request_seconds", "endpoint")


def gc_pauses_delta(before: Sequence[Sample], after: Sequence[Sample]) -> dict[str, Any]:
    """Per generation, between two scrapes of `recsvc_gc_pause_seconds`: collections, total
    ms, and how many took over 10 ms (the service's timer cannot see them)."""
    name = "recsvc_gc_pause_seconds"
    then = histogram_by(before, name, "generation")
    summary: dict[str, Any] = {}
    for generation, now in sorted(histogram_by(after, name, "generation").items()):
        old = then.get(generation, {})
        count = now.get("count", 0.0) - old.get("count", 0.0)
        summary[generation] = {
            "collections": int(count),
            "total_ms": round(1000 * (now.get("sum", 0.0) - old.get("sum", 0.0)), 1),
            "over_10ms": int(count - (now.get("le_0.01", 0.0) - old.get("le_0.01", 0.0))),
        }
    return summary


def answer_cache_counts(samples: Sequence[Sample]) -> dict[str, dict[str, float]]:
    """`recsvc_answer_cache_total`: endpoint → outcome → count."""
    counts: dict[str, dict[str, float]] = {}
    for name, labels, value in samples:
        if name == "recsvc_answer_cache_total":
            counts.setdefault(labels["endpoint"], {})[labels["outcome"]] = value
    return counts


def answer_cache_delta(
    before: Mapping[str, Mapping[str, float]], after: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, float]]:
    """Per endpoint, between two scrapes: hits, misses and the hit share."""
    summary = {}
    for endpoint, now in after.items():
        then = before.get(endpoint, {})
        hits = now.get("hit", 0.0) - then.get("hit", 0.0)
        misses = now.get("miss", 0.0) - then.get("miss", 0.0)
        if hits + misses > 0:
            summary[endpoint] = {
                "hits": int(hits),
                "misses": int(misses),
                "hit_share": round(hits / (hits + misses), 4),
            }
    return summary


def latency_delta(
    before: Mapping[str, Mapping[str, float]], after: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, float]]:
    """Per route, between two scrapes: requests, mean server-side ms, share ≤ 10 ms."""
    summary = {}
    for route, now in after.items():
        then = before.get(route, {})
        count = now.get("count", 0.0) - then.get("count", 0.0)
        if count <= 0 or not route.startswith("/v1"):
            continue
        seconds = now.get("sum", 0.0) - then.get("sum", 0.0)
        within = now.get("le_0.01", 0.0) - then.get("le_0.01", 0.0)
        summary[route] = {
            "requests": int(count),
            "mean_ms": round(1000 * seconds / count, 3),
            "share_within_10ms": round(within / count, 4),
        }
    return summary


def save_result(name: str, result: Mapping[str, Any]) -> Path:
    """Write `benchmarks/results/<name>.json` and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path
