"""Fault scenarios 1, 2, 3 and 5 of issue 5; scenario 4 (reload under load) is part of
`benchmarks/load_test.py`.

1. A broken new bundle is refused, the old one keeps serving without a failed request, and
   `/ready` and `/metrics` show the refusal.
2. The training job killed with SIGKILL at each stage and inside the export, and the disk
   filling during export: `current` still names the last good bundle and no partial
   directory is ever loaded.
3. The service killed with SIGKILL while events stream in: every acknowledged event is
   stored, and retried batches count nothing twice.
5. The event store locked, read-only or full: event posts get 503 with a clear message,
   recommendations keep being served, and events are taken again once it recovers.

Slow variants (marked `slow`, skipped unless RECSVC_SLOW=1): the kill at every pipeline
stage, repeated service kills and a real full disk (tmpfs, needs root).
`scripts/fault_scenarios.sh` runs everything.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from recsvc.api.app import create_app
from recsvc.artifacts import load_bundle, read_current, sha256_file, write_current
from recsvc.artifacts.manifest import MANIFEST_FILE
from recsvc.errors import BundleNotFoundError
from recsvc.events import open_store
from recsvc.events.reopening import ReopeningStore
from recsvc.live import BundleHolder
from recsvc.metrics import Metrics
from recsvc.recommend import build_index
from tests.reliability.kill_points import EXPORT_POINTS
from tests.reliability.support import (
    AUTH,
    HASH_KEY,
    TOKEN,
    free_port,
    make_settings,
    record,
    slow,
)

REPO = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 6 * 1024**3  # address space of every child process: a runaway must not OOM
TIMEOUT = 120.0

# --- scenario 1: a broken bundle is refused while the old one serves ---------------------


def _manifest(bundle: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((bundle / MANIFEST_FILE).read_text())
    return manifest


def _write_manifest(bundle: Path, manifest: dict[str, Any]) -> None:
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))


def _resave(bundle: Path, relative: str, array: np.ndarray[Any, Any]) -> None:
    """Replace an array and record its true checksum: only the content is wrong."""
    np.save(bundle / relative, array)
    manifest = _manifest(bundle)
    manifest["files"][relative] = sha256_file(bundle / relative)
    _write_manifest(bundle, manifest)


def _flip_bytes(bundle: Path) -> None:
    path = bundle / "als" / "item_factors.npy"
    data = bytearray(path.read_bytes())
    data[-8:] = bytes(255 - b for b in data[-8:])
    path.write_bytes(bytes(data))


def _garbage_with_checksum(bundle: Path) -> None:
    path = bundle / "als" / "item_factors.npy"
    path.write_bytes(b"garbage")
    manifest = _manifest(bundle)
    manifest["files"]["als/item_factors.npy"] = sha256_file(path)
    _write_manifest(bundle, manifest)


def _truncate(bundle: Path) -> None:
    path = bundle / "catalog" / "item_ids.npy"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _remove_file(bundle: Path) -> None:
    (bundle / "rules" / "lift.npy").unlink()


def _remove_manifest(bundle: Path) -> None:
    (bundle / MANIFEST_FILE).unlink()


def _unreadable_manifest(bundle: Path) -> None:
    (bundle / MANIFEST_FILE).write_text('{"schema_version": 1, "files": ')


def _schema_version(value: object) -> Callable[[Path], None]:
    def breaker(bundle: Path) -> None:
        _write_manifest(bundle, {**_manifest(bundle), "schema_version": value})

    return breaker


def _lying_checksum(bundle: Path) -> None:
    manifest = _manifest(bundle)
    files = manifest["files"]
    files["catalog/names.npy"] = files["catalog/item_ids.npy"]
    _write_manifest(bundle, manifest)


def _unlisted_array(bundle: Path) -> None:
    manifest = _manifest(bundle)
    del manifest["files"]["hybrid/item_biases.npy"]
    _write_manifest(bundle, manifest)


def _wrong_dtype(bundle: Path) -> None:
    _resave(bundle, "catalog/prices.npy", np.arange(12, dtype=np.int64))


def _wrong_length(bundle: Path) -> None:
    factors = np.load(bundle / "als" / "item_factors.npy")
    _resave(bundle, "als/item_factors.npy", factors[:-1])


def _index_out_of_range(bundle: Path) -> None:
    neighbors = np.load(bundle / "itemknn" / "neighbors.npy")
    _resave(bundle, "itemknn/neighbors.npy", neighbors + 100)


# fault -> (breaker, a word the refusal must contain)
BREAKERS: dict[str, tuple[Callable[[Path], None], str]] = {
    "corrupted file": (_flip_bytes, "item_factors"),
    "corrupted file, checksum updated": (_garbage_with_checksum, "item_factors"),
    "truncated file": (_truncate, "item_ids"),
    "missing file": (_remove_file, "lift"),
    "missing manifest": (_remove_manifest, "manifest.json"),
    "unreadable manifest": (_unreadable_manifest, "manifest.json"),
    "wrong schema version": (_schema_version(999), "schema_version"),
    "schema version as text": (_schema_version("1"), "schema_version"),
    "lying checksum": (_lying_checksum, "names"),
    "array missing from the manifest": (_unlisted_array, "item_biases"),
    "wrong dtype": (_wrong_dtype, "prices"),
    "wrong length": (_wrong_length, "item_factors"),
    "index out of range": (_index_out_of_range, "neighbors"),
}


def _broken_copy(models: Path, fault: str, version: str = "tiny-2") -> Path:
    bundle = models / version
    shutil.copytree(models / "tiny-1", bundle)
    BREAKERS[fault][0](bundle)
    return bundle


@dataclass
class Traffic:
    """Statuses of the requests a background thread sent."""

    statuses: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + TIMEOUT
        while len(self.statuses) + len(self.errors) < count and time.monotonic() < deadline:
            time.sleep(0.005)


@contextmanager
def traffic(client: TestClient) -> Iterator[Traffic]:
    """Related, cart and next-purchase requests in a loop from another thread; at least 10
    run before the body and 10 after it."""
    seen = Traffic()
    stop = threading.Event()
    calls: list[Callable[[], Any]] = [
        lambda: client.get("/v1/items/i00/related", params={"k": 5}),
        lambda: client.post("/v1/cart/recommendations", json={"items": ["i04", "i05"]}),
        lambda: client.get("/v1/users/u1/recommendations"),
    ]

    def run() -> None:
        for call in itertools.cycle(calls):
            if stop.is_set():
                return
            try:
                seen.statuses.append(call().status_code)
            except Exception as exc:  # any failure of a request is what this test looks for
                seen.errors.append(repr(exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    seen.wait_for(10)
    yield seen
    seen.wait_for(len(seen.statuses) + len(seen.errors) + 10)
    stop.set()
    thread.join(TIMEOUT)


def _metric(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.parametrize("fault", BREAKERS)
def test_a_broken_bundle_is_refused_and_the_old_one_serves(
    client: TestClient, models_dir: Path, fault: str
) -> None:
    _broken_copy(models_dir, fault)
    write_current(models_dir, "tiny-2")
    needle = BREAKERS[fault][1]
    with traffic(client) as seen:
        results = [client.post("/v1/admin/reload", headers=AUTH).json() for _ in range(3)]
    assert not seen.errors and set(seen.statuses) == {200}, (seen.errors, seen.statuses)
    assert all(r["outcome"] == "refused" and r["model_version"] == "tiny-1" for r in results)
    assert needle in results[0]["detail"]
    ready = client.get("/ready").json()
    assert ready["model_version"] == "tiny-1" and needle in ready["last_refusal"]
    metrics = client.get("/metrics").text
    assert _metric(metrics, 'recsvc_reloads_total{outcome="refused"}') == 3
    assert _metric(metrics, 'recsvc_bundle_info{version="tiny-1"}') == 1
    assert client.get("/v1/items/i00/related").json()["model_version"] == "tiny-1"


def test_the_poller_refuses_a_broken_bundle_while_serving(models_dir: Path) -> None:
    settings = make_settings(models_dir, reload_poll_seconds=0.02)
    with TestClient(create_app(settings)) as client, traffic(client) as seen:
        _broken_copy(models_dir, "lying checksum")
        write_current(models_dir, "tiny-2")
        deadline = time.monotonic() + TIMEOUT
        while client.get("/ready").json()["last_refusal"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert not seen.errors and set(seen.statuses) == {200}


def test_start_serves_the_newest_valid_bundle_when_current_is_broken(models_dir: Path) -> None:
    _broken_copy(models_dir, "wrong schema version")
    write_current(models_dir, "tiny-2")
    with TestClient(create_app(make_settings(models_dir))) as client:
        ready = client.get("/ready").json()
        assert ready["model_version"] == "tiny-1"
        assert "tiny-2" in ready["last_refusal"] and "schema_version" in ready["last_refusal"]


def test_start_fails_with_a_how_to_when_no_bundle_is_valid(models_dir: Path) -> None:
    _lying_checksum(models_dir / "tiny-1")
    with (
        pytest.raises(BundleNotFoundError, match="recsvc train"),
        TestClient(create_app(make_settings(models_dir))),
    ):
        pass


# --- scenario 2: the training job killed, the disk full during export --------------------

STAGES = (
    "load",
    "index",
    "profiles",
    "segments",
    "repurchase",
    "popularity",
    "rules",
    "als",
    "itemknn",
    "hybrid",
    "export",
)
FAST_KILL_POINTS = ("als", *EXPORT_POINTS)
SLOW_KILL_POINTS = tuple(stage for stage in STAGES if stage not in FAST_KILL_POINTS)
SLICE_LINES = 5000  # first invoice lines of Online Retail: ~250 orders, ~1,600 items
SMALL_CONFIG = """\
[rules]
min_support = 0.03
max_len = 3
[als]
factors = 8
iterations = 3
neighbors = 10
"""


@dataclass(frozen=True)
class TrainingInputs:
    data: Path
    config: Path

    def args(self, out: Path) -> list[str]:
        return [
            "train",
            "--data",
            str(self.data),
            "--format",
            "online-retail",
            "--config",
            str(self.config),
            "--out",
            str(out),
        ]


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECSVC_")}
    return env | {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **extra}


def _spawn(
    command: list[str], *, file_size: int | None = None, **popen: Any
) -> subprocess.Popen[str]:
    """Start `python <command>` with bounded memory (and file size, if given): limits are
    set right after the start, long before the child has imported anything."""
    process = subprocess.Popen(
        [sys.executable, *command], env=popen.pop("env", _child_env()), text=True, **popen
    )
    resource.prlimit(process.pid, resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    if file_size is not None:
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (file_size, file_size))
    return process


def _run(command: list[str], *, file_size: int | None = None) -> tuple[int, str, str]:
    """Run `python <command>` in the repository to completion: (exit code, stdout, stderr)."""
    with _spawn(
        command, file_size=file_size, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        stdout, stderr = process.communicate(timeout=TIMEOUT * 3)
    return process.returncode, stdout, stderr


def _kill_at(point: str, inputs: TrainingInputs, out: Path, log: Path) -> list[str]:
    """Run the CLI through `kill_points`, SIGKILL it at `point`; the lines it printed."""
    command = ["-m", "tests.reliability.kill_points", point, *inputs.args(out)]
    lines: list[str] = []
    with (
        log.open("w") as stderr,
        _spawn(command, cwd=REPO, stdout=subprocess.PIPE, stderr=stderr) as process,
    ):
        watchdog = threading.Timer(TIMEOUT * 3, process.kill)
        watchdog.start()
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.strip())
            if lines[-1] == f"AT {point}":
                process.send_signal(signal.SIGKILL)
                break
        watchdog.cancel()
    assert process.returncode == -signal.SIGKILL, f"{point} never reached: {log.read_text()}"
    return lines


def _assert_models_dir_safe(models: Path, expected: str) -> None:
    """`current` names `expected`, every visible version is a complete verified bundle, and
    the service loads `expected` (and, without a pointer, never a staging directory)."""
    assert read_current(models) == expected
    versions = sorted(p.name for p in models.iterdir() if p.is_dir() and p.name[0] != ".")
    for version in versions:
        assert load_bundle(models / version).version == version
    holder = BundleHolder(models, build_index, Metrics())
    assert holder.load_initial().version == expected
    assert holder.reload().outcome == "unchanged"
    (models / "current").unlink()
    assert BundleHolder(models, build_index, Metrics()).load_initial().version == versions[-1]
    write_current(models, expected)


@pytest.fixture(scope="module")
def training_inputs(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainingInputs:
    """A slice of the real Online Retail export and a config small enough for seconds."""
    root = tmp_path_factory.mktemp("training")
    data = root / "online_retail_slice.csv"
    source = shared_data / "online_retail" / "online_retail_first50k.csv.gz"
    with gzip.open(source, "rt") as lines, data.open("w") as slice_file:
        slice_file.writelines(itertools.islice(lines, SLICE_LINES + 1))
    config = root / "small.toml"
    config.write_text(SMALL_CONFIG)
    return TrainingInputs(data, config)


@pytest.fixture(scope="module")
def good_models(training_inputs: TrainingInputs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory holding one published bundle: the last good one."""
    out = tmp_path_factory.mktemp("good") / "models"
    lines = _train_through_driver(training_inputs, out)
    assert tuple(line[6:] for line in lines if line.startswith("STAGE ")) == STAGES
    return out


def _train_through_driver(inputs: TrainingInputs, out: Path) -> list[str]:
    """A complete run through `kill_points` (a point never reached): its stage lines."""
    code, stdout, stderr = _run(["-m", "tests.reliability.kill_points", "-", *inputs.args(out)])
    assert code == 0, stderr[-3000:]
    return stdout.splitlines()


def _copy_models(good: Path, tmp_path: Path) -> tuple[Path, str]:
    models = tmp_path / "models"
    shutil.copytree(good, models)
    return models, read_current(models)


def _check_kill(point: str, inputs: TrainingInputs, good: Path, tmp_path: Path) -> Path:
    models, last_good = _copy_models(good, tmp_path)
    before = sorted(p.name for p in models.iterdir())
    _kill_at(point, inputs, models, tmp_path / "train.log")
    if point in STAGES and point != "export":
        assert sorted(p.name for p in models.iterdir()) == before  # nothing written yet
    if point == "published":  # the pointer had moved: the new, verified bundle is current
        assert read_current(models) != last_good
        _assert_models_dir_safe(models, read_current(models))
    else:
        _assert_models_dir_safe(models, last_good)
    return models


@pytest.mark.realdata
@pytest.mark.parametrize("point", FAST_KILL_POINTS)
def test_training_killed_never_publishes_a_partial_bundle(
    training_inputs: TrainingInputs, good_models: Path, tmp_path: Path, point: str
) -> None:
    _check_kill(point, training_inputs, good_models, tmp_path)


@slow
@pytest.mark.realdata
@pytest.mark.parametrize("point", SLOW_KILL_POINTS)
def test_training_killed_at_every_stage(
    training_inputs: TrainingInputs, good_models: Path, tmp_path: Path, point: str
) -> None:
    _check_kill(point, training_inputs, good_models, tmp_path)


@pytest.mark.realdata
def test_a_run_after_a_killed_one_publishes(
    training_inputs: TrainingInputs, good_models: Path, tmp_path: Path
) -> None:
    models = _check_kill("staged", training_inputs, good_models, tmp_path)
    last_good = read_current(models)
    code, _, stderr = _run(["-m", "training", *training_inputs.args(models)])
    assert code == 0, stderr[-3000:]
    assert read_current(models) != last_good
    _assert_models_dir_safe(models, read_current(models))


@pytest.mark.realdata
def test_a_file_size_limit_during_export_leaves_current(
    training_inputs: TrainingInputs, good_models: Path, tmp_path: Path
) -> None:
    """The kernel refuses writes past RLIMIT_FSIZE (EFBIG), as a full quota would."""
    models, last_good = _copy_models(good_models, tmp_path)
    command = ["-m", "training", *training_inputs.args(models)]
    code, _, stderr = _run(command, file_size=64 * 1024)
    assert code == 2, stderr[-3000:]
    assert "could not write the bundle" in stderr  # numpy reports the short write
    assert not list(models.glob(".staging-*"))
    _assert_models_dir_safe(models, last_good)


@contextmanager
def tmpfs(path: Path, size_bytes: int) -> Iterator[Path]:
    """A real, size-limited filesystem at `path` (skips unless root may mount tmpfs)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)]
    if subprocess.run(mount, capture_output=True, check=False).returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _remount(path: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


@slow
@pytest.mark.realdata
def test_a_full_disk_during_export_leaves_current(
    training_inputs: TrainingInputs, good_models: Path, tmp_path: Path
) -> None:
    bundle_bytes = sum(p.stat().st_size for p in good_models.rglob("*") if p.is_file())
    with tmpfs(tmp_path / "disk", bundle_bytes * 3 // 2) as disk:
        models, last_good = _copy_models(good_models, disk)
        code, _, stderr = _run(["-m", "training", *training_inputs.args(models)])
        assert code == 2, stderr[-3000:]
        assert "could not write the bundle" in stderr  # numpy reports the short write
        assert not list(models.glob(".staging-*"))
        _assert_models_dir_safe(models, last_good)


# --- scenario 3: the service killed while events stream in -------------------------------

BATCH = 20
CLIENTS = 4


class Server:
    """`recsvc serve` (uvicorn, one worker) in a subprocess over a SQLite event store."""

    def __init__(self, models: Path, database: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.models, self.database, self.log = models, database, log
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        env = _child_env(
            RECSVC_EVENT_STORE_URL=f"sqlite:///{self.database}",
            RECSVC_ADMIN_TOKEN=TOKEN,
            RECSVC_USER_HASH_KEY=HASH_KEY,
            RECSVC_RELOAD_POLL_SECONDS="0",
        )
        command = ["-m", "training", "serve", "--models", str(self.models)]
        with self.log.open("a") as log:
            self.process = _spawn(
                [*command, "--port", str(self.port)],
                cwd=self.log.parent,
                env=env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + TIMEOUT
        while _status(f"{self.url}/ready") != 200:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "the service did not become ready"
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(TIMEOUT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(TIMEOUT)


def _status(url: str, body: dict[str, Any] | None = None) -> int | None:
    """HTTP status of a GET (or a JSON POST with `body`); None if there was no answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ConnectionError):
        return None


def _batch(batch_id: str) -> dict[str, Any]:
    timestamp = datetime.now(UTC).isoformat()
    return {
        "events": [
            {
                "event_id": f"{batch_id}-e{n}",
                "type": "click",
                "user_id": f"user-{batch_id}",
                "item_id": f"i{n % 12:02d}",
                "timestamp": timestamp,
            }
            for n in range(BATCH)
        ]
    }


def _stream_until_killed(server: Server, round_id: int) -> dict[str, dict[str, Any]]:
    """Clients post batches while the server is killed; batch id -> batch and its status."""
    sent: dict[str, dict[str, Any]] = {}
    acknowledged = threading.Semaphore(0)
    lock = threading.Lock()

    def client(number: int) -> None:
        for n in itertools.count():
            batch_id = f"r{round_id}-c{number}-b{n}"
            batch = _batch(batch_id)
            with lock:
                sent[batch_id] = {"batch": batch, "status": None}
            status = _status(f"{server.url}/v1/events", batch)
            sent[batch_id]["status"] = status
            if status != 200:
                return
            acknowledged.release()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for _ in range(30):  # kill once 30 batches were acknowledged, with others in flight
        assert acknowledged.acquire(timeout=TIMEOUT)
    server.kill()
    for thread in threads:
        thread.join(TIMEOUT)
    return sent


def _stored_ids(database: Path) -> list[str]:
    store = open_store(f"sqlite:///{database}")
    try:
        rows = store.iter_events(datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
        return [row["event_id"] for row in rows]
    finally:
        store.close()


def _kill_and_verify(models_dir: Path, tmp_path: Path, rounds: int) -> None:
    database = tmp_path / "events.db"
    server = Server(models_dir, database, tmp_path / "server.log")
    sent: dict[str, dict[str, Any]] = {}
    try:
        for round_id in range(rounds):
            server.start()
            sent |= _stream_until_killed(server, round_id)
            stored = set(_stored_ids(database))
            for batch_id, entry in sent.items():
                ids = {event["event_id"] for event in entry["batch"]["events"]}
                if entry["status"] == 200:
                    assert ids <= stored, f"acknowledged batch {batch_id} lost"
                assert ids <= stored or not ids & stored, f"batch {batch_id} half stored"
        server.start()
        all_ids = [event["event_id"] for e in sent.values() for event in e["batch"]["events"]]
        accepted = 0
        for entry in sent.values():  # every client retries every batch
            retry = _post_json(f"{server.url}/v1/events", entry["batch"])
            accepted += retry["accepted"]
            assert retry["accepted"] + retry["duplicates"] == BATCH
        after_retries = _stored_ids(database)
        assert sorted(after_retries) == sorted(all_ids)  # each event exactly once
        assert accepted == len(all_ids) - len(stored)  # the retries added only what was missing
    finally:
        server.stop()
    acknowledged = sum(entry["status"] == 200 for entry in sent.values())
    assert acknowledged >= 30 * rounds
    record(
        "service killed while events stream",
        rounds=rounds,
        batches=len(sent),
        acknowledged=acknowledged,
        unacknowledged=len(sent) - acknowledged,
        committed_but_unacknowledged=(len(stored) - BATCH * acknowledged) // BATCH,
        lost_acknowledged=0,
        counted_twice=0,
        added_by_retries=accepted // BATCH,
    )


def _post_json(url: str, body: dict[str, Any]) -> dict[str, int]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, int] = json.load(response)
        return answer


def test_acknowledged_events_survive_a_killed_service(models_dir: Path, tmp_path: Path) -> None:
    _kill_and_verify(models_dir, tmp_path, rounds=1)


@slow
def test_acknowledged_events_survive_repeated_kills(models_dir: Path, tmp_path: Path) -> None:
    _kill_and_verify(models_dir, tmp_path, rounds=5)


# --- scenario 5: the event store unavailable ---------------------------------------------


def _events(prefix: str, count: int = 5) -> dict[str, Any]:
    return {"events": _batch(prefix)["events"][:count]}


def _recommendations_served(client: TestClient) -> None:
    assert client.get("/v1/items/i00/related", params={"user_id": "u1"}).status_code == 200
    cart = {"items": ["i04"], "user_id": "u1"}
    assert client.post("/v1/cart/recommendations", json=cart).status_code == 200
    assert client.get("/v1/users/u1/recommendations").status_code == 200


def _refused_clearly(client: TestClient, batch: dict[str, Any], reason: str) -> None:
    started = time.monotonic()
    response = client.post("/v1/events", json=batch)
    assert response.status_code == 503, response.text
    assert reason in response.json()["detail"]
    assert time.monotonic() - started < 10  # answers, does not hang


def test_a_locked_store_gives_503_and_recommendations_are_served(
    models_dir: Path, tmp_path: Path
) -> None:
    database = tmp_path / "events.db"
    store = open_store(f"sqlite:///{database}", busy_timeout=0.2)
    with TestClient(create_app(make_settings(models_dir), store=store)) as client:
        assert client.post("/v1/events", json=_events("before")).status_code == 200
        lock = sqlite3.connect(database, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            for _ in range(3):
                _recommendations_served(client)
            response = client.post("/v1/events", json=_events("during"))
            assert response.status_code == 503
            assert "retry later" in response.json()["detail"]
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        retried = client.post("/v1/events", json=_events("during"))
        assert retried.json() == {"accepted": 5, "duplicates": 0, "unattributed": 0}
    store.close()


def test_a_read_only_store_file_gives_503_and_recommendations_are_served(
    models_dir: Path, tmp_path: Path
) -> None:
    database = tmp_path / "events.db"
    open_store(f"sqlite:///{database}").close()
    immutable = subprocess.run(["chattr", "+i", str(database)], capture_output=True, check=False)
    if immutable.returncode:
        pytest.skip("cannot make a file immutable here (needs root and chattr)")
    try:
        settings = make_settings(models_dir, event_store_url=f"sqlite:///{database}")
        with TestClient(create_app(settings)) as client:
            _recommendations_served(client)
            _refused_clearly(client, _events("ro"), "read-only")
    finally:
        subprocess.run(["chattr", "-i", str(database)], check=True)


def test_a_read_only_volume_at_start_gives_503_until_it_is_writable(
    models_dir: Path, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "volume", 8 * 1024**2) as volume:
        url = f"sqlite:///{volume / 'events.db'}"
        _remount(volume, "ro")
        settings = make_settings(models_dir, event_store_url=url)
        with TestClient(create_app(settings)) as client:  # starts: the store is not needed
            _recommendations_served(client)
            _refused_clearly(client, _events("ro"), "cannot be opened")
        store = ReopeningStore(url, retry_seconds=0.05)
        with TestClient(create_app(settings, store=store)) as client:
            _refused_clearly(client, _events("ro"), "cannot be opened")
            _remount(volume, "rw")
            time.sleep(0.1)
            assert client.post("/v1/events", json=_events("ro")).json()["accepted"] == 5
        store.close()


def test_a_full_disk_gives_503_until_space_is_freed(models_dir: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "volume", 4 * 1024**2) as volume:
        settings = make_settings(models_dir, event_store_url=f"sqlite:///{volume / 'events.db'}")
        with TestClient(create_app(settings)) as client:
            assert client.post("/v1/events", json=_events("before")).status_code == 200
            filler = volume / "filler"
            with filler.open("wb") as handle, pytest.raises(OSError, match="No space"):
                while True:
                    handle.write(b"\0" * 65536)
            batch = _events("full", BATCH)
            _refused_clearly(client, batch, "full disk")
            _recommendations_served(client)
            filler.unlink()
            assert client.post("/v1/events", json=batch).json()["accepted"] == BATCH
