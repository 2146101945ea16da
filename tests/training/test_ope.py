"""Off-policy estimators pinned to hand arithmetic on tiny logs, checked for consistency on a
simulated log, and run end to end on a slice of the Open Bandit Dataset."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from training.errors import DataFormatError
from training.evaluation import obd
from training.evaluation.bootstrap import Interval
from training.evaluation.ope import (
    BANDIT_SCHEMA,
    LoggedFeedback,
    dr,
    empirical_action_dist,
    estimate_all,
    fit_ctr_model,
    importance_weights,
    ips,
    logged_feedback,
    snips,
)

DATA = Path(__file__).parents[2] / ".." / "shared" / "data"
OBD = DATA / "obd"


def _log(rows: list[tuple[str, str, int, float, float]]) -> pl.DataFrame:
    """Rows of (round_id, item_id, position, reward, pscore) as a canonical frame."""
    when = datetime(2024, 1, 1, tzinfo=UTC)
    return pl.DataFrame(
        [(r, when, item, pos, reward, p) for r, item, pos, reward, p in rows],
        schema=BANDIT_SCHEMA,
        orient="row",
    )


@pytest.fixture
def tiny() -> LoggedFeedback:
    """Uniform logging over items A, B at two positions (pscore 0.5 everywhere)."""
    frame = _log(
        [
            ("r1", "A", 1, 1.0, 0.5),
            ("r1", "B", 2, 0.0, 0.5),
            ("r2", "B", 1, 0.0, 0.5),
            ("r2", "A", 2, 1.0, 0.5),
            ("r3", "A", 1, 0.0, 0.5),
        ]
    )
    return logged_feedback(frame, ["A", "B"])


# Evaluation policy, context-free: position 1 shows A 0.8 / B 0.2, position 2 A 0.3 / B 0.7.
POLICY = np.array([[[0.8, 0.3], [0.2, 0.7]]])


def test_logged_feedback_indexes_rounds_actions_positions(tiny: LoggedFeedback) -> None:
    assert tiny.round_ids == ("r1", "r2", "r3")
    assert tiny.round_idx.tolist() == [0, 0, 1, 1, 2]
    assert tiny.action.tolist() == [0, 1, 1, 0, 0]
    assert tiny.position.tolist() == [0, 1, 0, 1, 0]
    assert tiny.n_positions == 2


def test_ips_and_snips_by_hand(tiny: LoggedFeedback) -> None:
    # w = π/pscore: A@1 0.8/0.5 = 1.6, B@2 1.4, B@1 0.4, A@2 0.6, A@1 1.6.
    np.testing.assert_allclose(importance_weights(tiny, POLICY), [1.6, 1.4, 0.4, 0.6, 1.6])
    # Rewarded rows: r1 A@1 (w 1.6) and r2 A@2 (w 0.6).
    # IPS = (1.6 + 0.6) / 5 rows = 0.44; SNIPS = 2.2 / (1.6+1.4+0.4+0.6+1.6 = 5.6).
    assert ips(tiny, POLICY).estimate == pytest.approx(0.44)
    assert snips(tiny, POLICY).estimate == pytest.approx(2.2 / 5.6)


def test_dr_by_hand(tiny: LoggedFeedback) -> None:
    q = np.array([[0.5, 0.4], [0.1, 0.2]])  # q(A,1) .5, q(A,2) .4, q(B,1) .1, q(B,2) .2
    # Σ_a π q: position 1 = .8·.5 + .2·.1 = .42; position 2 = .3·.4 + .7·.2 = .26.
    # Rows: A@1 .42 + 1.6·(1−.5) = 1.22;  B@2 .26 + 1.4·(0−.2) = −.02;
    #       B@1 .42 + .4·(0−.1) = .38;    A@2 .26 + .6·(1−.4) = .62;  A@1 .42 + 1.6·(0−.5) = −.38
    # DR = (1.22 − .02 + .38 + .62 − .38) / 5 = 1.82 / 5.
    assert dr(tiny, POLICY, q).estimate == pytest.approx(1.82 / 5)


def test_ctr_model_by_hand(tiny: LoggedFeedback) -> None:
    # Position 1: A shown twice (1 click), B once (0): μ1 = 1/3. Position 2: B 0/1, A 1/1: μ2 = 1/2.
    # q = (clicks + m·μ) / (shown + m) with m = 2.
    q = fit_ctr_model(tiny, prior_strength=2.0)
    expected = [[(1 + 2 / 3) / 4, (1 + 1) / 3], [(0 + 2 / 3) / 3, (0 + 1) / 3]]
    np.testing.assert_allclose(q, expected)


def test_per_round_policy(tiny: LoggedFeedback) -> None:
    # Deterministic slates: r1 and r2 show A@1, B@2; r3 shows B@1, A@2.
    shows_a_first = np.array([[1.0, 0.0], [0.0, 1.0]])
    policy = np.stack([shows_a_first, shows_a_first, shows_a_first[::-1]])
    # Non-zero weights: r1 A@1 (1/0.5 = 2, reward 1) and r1 B@2 (2, reward 0); r2 and r3 rows
    # disagree with the policy. IPS = 2 / 5; SNIPS = 2 / (2 + 2).
    assert ips(tiny, policy).estimate == pytest.approx(0.4)
    assert snips(tiny, policy).estimate == pytest.approx(0.5)


def test_logging_policy_recovers_the_logged_mean(tiny: LoggedFeedback) -> None:
    uniform = np.full((1, 2, 2), 0.5)
    results = estimate_all(tiny, uniform)
    assert results["ips"].estimate == pytest.approx(2 / 5)
    assert results["snips"].estimate == pytest.approx(2 / 5)


def test_empirical_action_dist(tiny: LoggedFeedback) -> None:
    # Position 1: A twice, B once; position 2: B once, A once.
    np.testing.assert_allclose(empirical_action_dist(tiny)[0], [[2 / 3, 1 / 2], [1 / 3, 1 / 2]])


def test_estimators_are_consistent_on_a_simulated_log() -> None:
    """Uniform logging over 5 items × 2 positions, known CTRs; the truth is Σ π·ctr per slot."""
    rng = np.random.default_rng(0)
    n_items, n_rows = 5, 20_000
    ctr = rng.uniform(0.02, 0.3, size=(n_items, 2))
    items = rng.integers(0, n_items, n_rows)
    positions = rng.integers(0, 2, n_rows)
    clicks = rng.random(n_rows) < ctr[items, positions]
    frame = _log(
        [
            (f"r{i}", f"i{a}", p + 1, float(c), 1 / n_items)
            for i, (a, p, c) in enumerate(zip(items, positions, clicks, strict=True))
        ]
    )
    feedback = logged_feedback(frame, [f"i{a}" for a in range(n_items)])
    policy = rng.dirichlet(np.ones(n_items), size=2).T[None, :, :]
    truth = float((policy[0] * ctr).sum(axis=0).mean())
    for name, interval in estimate_all(feedback, policy).items():
        assert interval.low <= truth <= interval.high, name
        assert abs(interval.estimate - truth) < 0.15 * truth, name


def test_intervals_are_deterministic_and_contain_the_estimate(tiny: LoggedFeedback) -> None:
    first = estimate_all(tiny, POLICY, seed=9)
    assert first == estimate_all(tiny, POLICY, seed=9)
    for interval in first.values():
        assert interval.low <= interval.estimate <= interval.high


@pytest.mark.parametrize(
    ("row", "column"),
    [
        (("r", "Z", 1, 0.0, 0.5), "item_id"),
        (("r", "A", 1, 0.0, 0.0), "pscore"),
        (("r", "A", 0, 0.0, 0.5), "position"),
    ],
)
def test_malformed_logs_raise(row: tuple[str, str, int, float, float], column: str) -> None:
    with pytest.raises(DataFormatError, match=column):
        logged_feedback(_log([row]), ["A", "B"], n_positions=2)


def test_action_dist_must_be_a_distribution(tiny: LoggedFeedback) -> None:
    with pytest.raises(ValueError, match="probability"):
        ips(tiny, POLICY * 2)
    with pytest.raises(ValueError, match="rounds"):
        ips(tiny, np.repeat(POLICY, 2, axis=0))


# --- Open Bandit Dataset --------------------------------------------------------------


def test_bts_monte_carlo_matches_a_simulation_loop() -> None:
    """obp's loop: per simulation, draw θ, rank items, count the top three per position."""
    dist = obd.bts_action_dist(n_sim=200, seed=4)
    rng = np.random.default_rng(4)
    counts = np.zeros((80, 3))
    for _ in range(200):
        theta = rng.beta(obd.BTS_PRIOR_ALPHA, obd.BTS_PRIOR_BETA)
        for position, item in enumerate(np.argsort(-theta)[:3]):
            counts[item, position] += 1
    np.testing.assert_allclose(dist[0], counts / 200)
    np.testing.assert_allclose(dist[0].sum(axis=0), 1.0)


needs_obd = pytest.mark.skipif(not OBD.is_dir(), reason="shared OBD data absent")


@pytest.mark.realdata
@needs_obd
def test_obd_slice_end_to_end() -> None:
    random_dir, bts_dir = OBD / "random" / "all", OBD / "bts" / "all"
    items = obd.obd_item_ids(random_dir)
    assert items == tuple(str(i) for i in range(80))
    log = obd.load_obd(random_dir, n_rows=2000)
    assert log.height == 2000
    assert log.select(BANDIT_SCHEMA.names()).schema == BANDIT_SCHEMA
    assert log["timestamp"].is_sorted()
    feedback = logged_feedback(log, items, n_positions=obd.N_POSITIONS)

    uniform = np.full((1, 80, 3), 1 / 80)  # the random log's own policy: pscore = 1/80
    logging = estimate_all(feedback, uniform, n_boot=200)
    mean_click = float(log["reward"].mean())  # type: ignore[arg-type]
    assert logging["snips"].estimate == pytest.approx(mean_click, abs=1e-12)
    assert logging["ips"].estimate == pytest.approx(mean_click, abs=1e-12)

    estimates = estimate_all(feedback, obd.bts_action_dist(n_sim=20_000), n_boot=200)
    truth = obd.load_obd(bts_dir, n_rows=2000)["reward"].mean()
    assert isinstance(truth, float) and 0 < truth < 0.05
    for name, interval in estimates.items():
        assert isinstance(interval, Interval)
        assert np.isfinite([interval.estimate, interval.low, interval.high]).all(), name
        assert interval.low <= interval.estimate <= interval.high, name
        assert 0 <= interval.estimate < 0.05, name
