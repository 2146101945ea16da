"""The REPLAY simulator drives the real app (in-process) and the readout sees its bids."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from fastapi.testclient import TestClient

from recsvc.api.app import create_app
from recsvc.artifacts import write_current
from recsvc.config import Settings
from recsvc.events import open_store
from tests.recsvc.bundle_builder import build_tiny_bundle
from training.evaluation.readout import read_ab
from training.evaluation.simulator import LABEL, simulate
from training.evaluation.tasks import BID, OUTCOME_SCHEMA, RELATED, REQUEST_SCHEMA, TaskSet

SHOPPERS = ("u1", "u2", "u3", "u4", "u5")
WHEN = datetime(2011, 12, 9, 10, tzinfo=UTC)


def related_task() -> TaskSet:
    """Each shopper's held-out basket: i00 then i01 (the tiny bundle's top rule i00 → i01)
    and i09 (never related to i00), so exactly one recommended item is bid per shopper."""
    requests = pl.DataFrame(
        {
            "request_id": [f"r-{user}" for user in SHOPPERS],
            "task": [RELATED] * len(SHOPPERS),
            "user_id": list(SHOPPERS),
            "session_id": [None] * len(SHOPPERS),
            "timestamp": [WHEN] * len(SHOPPERS),
            "country": ["United Kingdom"] * len(SHOPPERS),
            "hour": [10] * len(SHOPPERS),
            "seeds": [["i00"]] * len(SHOPPERS),
            "is_new": [False] * len(SHOPPERS),
            "recent": [[]] * len(SHOPPERS),
        },
        schema=REQUEST_SCHEMA,
    )
    outcome = pl.DataFrame(
        {
            "request_id": [f"r-{user}" for user in SHOPPERS for _ in range(2)],
            "item_id": ["i01", "i09"] * len(SHOPPERS),
            "kind": [BID] * (2 * len(SHOPPERS)),
            "revenue": [2.95, 0.42] * len(SHOPPERS),
        },
        schema=OUTCOME_SCHEMA,
    )
    return TaskSet(RELATED, requests, outcome, (BID,))


def test_replay_posts_bids_that_the_readout_counts_per_arm(tmp_path: Path) -> None:
    models = tmp_path / "models"
    build_tiny_bundle(models / "tiny-1")
    write_current(models, "tiny-1")
    store_url = f"sqlite:///{tmp_path / 'events.db'}"
    settings = Settings(
        models_dir=models,
        dev_mode=True,
        admin_token="test-admin-token-0123456789",
        reload_poll_seconds=0,
        event_store_url=store_url,
    )
    with TestClient(create_app(settings)) as client:
        summary = simulate(client, {RELATED: related_task()}, k=3)
        again = simulate(client, {RELATED: related_task()}, k=3)

    assert summary.as_dict()["label"] == LABEL
    assert sum(summary.requests.values()) == len(SHOPPERS)
    bids = {arm: n for (arm, kind), n in summary.events.items() if kind == BID}
    readout = read_ab(
        open_store(store_url), datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    )
    counted = dict(zip(readout.arms["arm"].to_list(), readout.arms["bid"].to_list(), strict=True))
    # the re-run posts the same event ids: the store ignores them, bids are counted once
    assert {arm: n for arm, n in counted.items() if n} == bids
    assert sum(bids.values()) >= 1
    assert again.events == summary.events
