"""The A/B readout on a real (SQLite) event store filled by hand: attribution to slots,
rates per arm, uplift, the sample-ratio check, the funnel, and arm-level OPE."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recsvc.events import Event, EventStore, Impression, ImpressionItem, open_store
from training.evaluation.cli_commands import run_ope, run_readout
from training.evaluation.ope import arm_values, logged_feedback
from training.evaluation.readout import bandit_frame, funnel, read_ab, sample_ratio_check

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
WEIGHTS = {"model": 0.9, "popular": 0.1}
# recommendation id, user, arm, items in rank order
SERVED = [
    ("r1", "a", "model", ("x", "y")),
    ("r2", "b", "model", ("x", "z")),
    ("r3", "c", "popular", ("p", "q")),
    ("r4", "c", "popular", ("p", "x")),
]


def _impression(rec: str, user: str, arm: str, items: tuple[str, ...], at: datetime) -> Impression:
    return Impression(
        recommendation_id=rec,
        user_id=user,
        endpoint="related",
        experiment="exp",
        arm=arm,
        model_version="v1",
        items=tuple(
            ImpressionItem(
                item_id=item, rank=rank, score=1.0, strategy="s", propensity=WEIGHTS[arm]
            )
            for rank, item in enumerate(items, start=1)
        ),
        created_at=at,
    )


def _event(
    event_id: str, kind: str, user: str, item: str, rec: str | None, **extra: float
) -> Event:
    return Event(
        event_id=event_id,
        type=kind,  # type: ignore[arg-type]
        user_id=user,
        item_id=item,
        timestamp=T0 + timedelta(minutes=5),
        recommendation_id=rec,
        **extra,  # type: ignore[arg-type]
    )


def fill(store: EventStore) -> None:
    for minute, (rec, user, arm, items) in enumerate(SERVED):
        store.record_impression(_impression(rec, user, arm, items, T0 + timedelta(minutes=minute)))
    store.add_events(
        [
            _event("e1", "impression", "a", "x", "r1"),
            _event("e2", "click", "a", "x", "r1"),
            _event("e3", "click", "a", "x", "r1"),  # a second click on the same slot
            _event("e4", "bid", "a", "x", "r1", amount=10.0),
            _event("e5", "purchase", "a", "x", "r1", amount=12.0),
            _event("e6", "click", "b", "z", "r2"),
            _event("e7", "click", "b", "y", "r2"),  # y was not served in r2: not credited
            _event("e8", "click", "c", "q", "r3"),
            _event("e9", "click", "c", "q", None),  # answers no recommendation
            _event("e10", "click", "c", "q", "unknown"),
        ]
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    fill(opened)
    yield opened
    opened.close()


def test_rates_per_arm_count_each_slot_once(store: EventStore) -> None:
    readout = read_ab(store, T0, T0 + timedelta(hours=1), n_boot=200)
    arms = {row["arm"]: row for row in readout.arms.iter_rows(named=True)}
    model, popular = arms["model"], arms["popular"]
    assert (model["impressions"], model["slots"], model["shoppers"]) == (2, 4, 2)
    assert (model["clicked"], model["bid"], model["purchased"], model["rendered"]) == (2, 1, 1, 1)
    assert model["ctr"] == pytest.approx(0.5)
    assert model["bid_rate"] == pytest.approx(0.25)
    assert model["revenue_per_impression"] == pytest.approx(5.0)  # Σ bid amounts / lists
    assert model["revenue_per_shopper"] == pytest.approx(5.0)
    assert model["purchase_revenue"] == pytest.approx(12.0)
    assert (popular["slots"], popular["shoppers"], popular["clicked"]) == (4, 1, 1)
    assert popular["ctr"] == pytest.approx(0.25)
    assert model["expected_share"] == pytest.approx(0.9)  # the logged propensity


def test_uplift_over_the_control_and_the_funnel(store: EventStore) -> None:
    readout = read_ab(store, T0, T0 + timedelta(hours=1), n_boot=200)
    ctr = readout.uplift.filter(pl.col("metric") == "ctr").row(0, named=True)
    assert (ctr["arm"], ctr["control"]) == ("model", "popular")
    assert ctr["value"] == pytest.approx(2.0)
    assert ctr["ci_low"] <= ctr["value"] <= ctr["ci_high"]
    stages = funnel(readout).filter(pl.col("arm") == "model").row(0, named=True)
    assert [stages[c] for c in ("slots", "rendered_slots", "clicked_slots", "bid_slots")] == [
        4, 1, 2, 1,
    ]  # fmt: skip


def test_the_window_selects_impressions_by_creation_time(store: EventStore) -> None:
    late = read_ab(store, T0 + timedelta(minutes=2), T0 + timedelta(hours=1), n_boot=100)
    assert late.arms["arm"].to_list() == ["popular"]
    assert late.uplift.is_empty()  # the model arm is not in this window


def test_sample_ratio_mismatch_is_flagged_only_when_far_off() -> None:
    balanced = sample_ratio_check({"model": 905, "popular": 95}, WEIGHTS)
    assert balanced["srm_suspected"] is False
    skewed = sample_ratio_check({"model": 500, "popular": 500}, WEIGHTS)
    assert skewed["srm_suspected"] is True
    assert skewed["p_value"] < 1e-10
    untested = sample_ratio_check({"model": 10, "other": 3}, WEIGHTS)
    assert untested["untested_arms"] == ["other"] and untested["p_value"] is None


def test_arm_values_are_ips_and_snips_with_the_arm_as_the_action(store: EventStore) -> None:
    frame = bandit_frame(read_ab(store, T0, T0 + timedelta(hours=1), n_boot=100))
    feedback = logged_feedback(frame, sorted(frame["item_id"].unique().to_list()))
    in_model = frame["ctx_arm"].to_numpy() == "model"
    values = arm_values(feedback, in_model, n_boot=200)
    assert values["ips"].estimate == pytest.approx((2 / 0.9) / 8)
    assert values["snips"].estimate == pytest.approx(0.5)  # the arm's own CTR per slot
    assert np.isfinite(values["ips"].low)


def test_command_functions_read_the_store_file(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    store = open_store(f"sqlite:///{path}")
    fill(store)
    store.close()
    run_readout(str(path), "2026-11-01", "2026-11-02", tmp_path / "ab", n_boot=100)
    page = (tmp_path / "ab" / "report.html").read_text()
    assert "Sample-ratio mismatch" in page and "data:image/png;base64," in page
    result = run_ope(str(path), "recsvc", tmp_path / "ope.json", n_boot=100)
    assert result["arms"]["popular"]["snips"]["estimate"] == pytest.approx(0.25)
    assert (tmp_path / "ope.json").is_file()
