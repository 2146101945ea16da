"""The live bundle: load, verify, swap atomically, poll `current` off the request path.

Requests read `holder.current` once and use that immutable object to the end, so a swap
never changes a request in flight. A bundle that fails `load_bundle` (or building its
serving index) is refused: the old one keeps serving and the refusal is recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Generic, Literal, TypeVar

from recsvc.artifacts import Bundle, load_bundle, read_current
from recsvc.errors import BundleError, BundleNotFoundError, ContractError
from recsvc.metrics import Metrics

log = logging.getLogger(__name__)

IndexT = TypeVar("IndexT")
Outcome = Literal["swapped", "unchanged", "refused"]


@dataclass(frozen=True)
class Live(Generic[IndexT]):
    """A verified bundle with its serving index."""

    bundle: Bundle
    index: IndexT
    loaded_at: float

    @property
    def version(self) -> str:
        return self.bundle.version

    def age_seconds(self) -> float:
        created = datetime.fromisoformat(self.bundle.manifest.created_at)
        return max(time.time() - created.timestamp(), 0.0)


@dataclass(frozen=True)
class ReloadResult:
    outcome: Outcome
    version: str
    detail: str = ""


class BundleHolder(Generic[IndexT]):
    """Holds the live bundle of `models_dir` and swaps in new versions."""

    def __init__(
        self, models_dir: Path, build_index: Callable[[Bundle], IndexT], metrics: Metrics
    ) -> None:
        self._dir = models_dir
        self._build_index = build_index
        self._metrics = metrics
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Live[IndexT] | None = None
        self.last_refusal: str | None = None

    @property
    def current(self) -> Live[IndexT]:
        live = self._live
        if live is None:
            raise BundleNotFoundError("no bundle is loaded")
        return live

    def load_initial(self) -> Live[IndexT]:
        """Load `current`, else the newest valid version; raise only if none is valid."""
        candidates = self._candidates()
        errors: list[str] = []
        for version in candidates:
            try:
                self._swap(self._load(version))
            except BundleError as exc:
                errors.append(f"{version}: {exc}")
                self._refused(str(exc))
                continue
            if errors:  # /ready shows why a fallback serves instead of `current`
                self.last_refusal = "; ".join(errors)
            return self.current
        detail = "; ".join(errors) or "no bundle versions found"
        raise BundleNotFoundError(
            f"no valid bundle in {self._dir} ({detail}). Train one with: "
            f"recsvc train --data ../shared/data/online_retail/online_retail.parquet "
            f"--out {self._dir}"
        )

    def reload(self) -> ReloadResult:
        """Load the version `current` names, if it differs from the live one."""
        with self._lock:
            live = self._live
            try:
                version = read_current(self._dir)
                if live is not None and version == live.version:
                    return ReloadResult("unchanged", version)
                self._swap(self._load(version))
            except BundleError as exc:
                self._refused(str(exc))
                return ReloadResult("refused", live.version if live else "", str(exc))
        log.info("bundle swapped", extra={"old": live.version if live else None, "new": version})
        return ReloadResult("swapped", version)

    def start_polling(self, interval: float) -> None:
        if interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._poll, args=(interval,), name="bundle-poller", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.reload()

    def _candidates(self) -> list[str]:
        try:
            first = [read_current(self._dir)]
        except BundleError:
            first = []
        others = sorted(
            (p.name for p in self._dir.glob("*") if p.is_dir() and not p.name.startswith(".")),
            reverse=True,
        )
        return first + [v for v in others if v not in first]

    def _load(self, version: str) -> Live[IndexT]:
        bundle = load_bundle(self._dir / version)
        try:
            index = self._build_index(bundle)
        except (KeyError, ValueError, IndexError, TypeError) as exc:
            raise ContractError(f"{version}: cannot build the serving index: {exc!r}") from exc
        return Live(bundle=bundle, index=index, loaded_at=time.time())

    def _swap(self, live: Live[IndexT]) -> None:
        old = self._live
        self._live = live
        self.last_refusal = None
        self._metrics.reloads.labels("swapped").inc()
        if old is not None:
            self._metrics.bundle_info.remove(old.version)
        self._metrics.bundle_info.labels(live.version).set(1)
        created = datetime.fromisoformat(live.bundle.manifest.created_at)
        self._metrics.bundle_created.set(created.timestamp())

    def _refused(self, detail: str) -> None:
        self.last_refusal = detail
        self._metrics.reloads.labels("refused").inc()
        log.warning("bundle refused", extra={"detail": detail})
