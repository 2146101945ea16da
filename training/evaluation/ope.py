"""Off-policy estimators (IPS, SNIPS, DR) of a slate policy's reward per impression.

The canonical *logged bandit feedback* frame, produced by every log loader (the Open
Bandit Dataset in `training.evaluation.obd`; recsvc's impression log later):

    round_id   str           one recommendation request; its slots share the round
    timestamp  datetime UTC  when the round was served
    item_id    str           the item shown (the action)
    position   int, 1-based  the slot it was shown in
    reward     float         the feedback (click 0/1)
    pscore     float (0, 1]  the logging policy's marginal probability of showing item_id
                             at position in this round
    ctx_*      any           optional context columns, unused by the estimators here

Each row is one (round, position) impression. The estimand, as in obp's position-wise
OPE on OBD, is the expected reward per impression V(π) = E[r] under the evaluation policy
π, estimated from n rows i with weight wᵢ = π(aᵢ | roundᵢ, posᵢ) / pscoreᵢ:

    IPS    V̂ = (1/n) Σᵢ wᵢ rᵢ
    SNIPS  V̂ = Σᵢ wᵢ rᵢ / Σᵢ wᵢ
    DR     V̂ = (1/n) Σᵢ [ Σₐ π(a | roundᵢ, posᵢ) q(a, posᵢ) + wᵢ (rᵢ − q(aᵢ, posᵢ)) ]

with q the reward model of `fit_ctr_model`. π is given as obp's `action_dist`, shape
(n_rounds, n_actions, n_positions), π[t, a, p] = probability that round t shows action a
at position p; a context-free policy may pass n_rounds = 1, broadcast to every round.

Confidence intervals: every estimate is a ratio of per-round sums, so the 95 % interval is
the percentile bootstrap over rounds (`training.evaluation.bootstrap`), which keeps the
slots of one round together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

from training.data.schema import ITEM, TS
from training.errors import DataFormatError, EmptyDataError
from training.evaluation.bootstrap import Interval, bootstrap_rate_ci

ROUND: Final = "round_id"
POSITION: Final = "position"
REWARD: Final = "reward"
PSCORE: Final = "pscore"
CONTEXT_PREFIX: Final = "ctx_"

BANDIT_SCHEMA: Final = pl.Schema(
    [
        (ROUND, pl.String),
        (TS, pl.Datetime("us", "UTC")),
        (ITEM, pl.String),
        (POSITION, pl.Int16),
        (REWARD, pl.Float64),
        (PSCORE, pl.Float64),
    ]
)


@dataclass(frozen=True)
class LoggedFeedback:
    """The canonical frame as index arrays, all of shape (n_rows,).

    `round_idx` indexes `round_ids` (rounds in order of first appearance); `action`
    indexes the action space `item_ids`; `position` is 0-based.
    """

    round_idx: NDArray[np.int64]
    action: NDArray[np.int64]
    position: NDArray[np.int64]
    reward: NDArray[np.float64]
    pscore: NDArray[np.float64]
    round_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    n_positions: int

    @property
    def n_rows(self) -> int:
        return len(self.reward)


def logged_feedback(
    frame: pl.DataFrame, item_ids: Sequence[str], *, n_positions: int | None = None
) -> LoggedFeedback:
    """Index a canonical logged-bandit frame against the action space `item_ids`.

    `n_positions` defaults to the largest logged position. Raises DataFormatError on a
    missing column, an item outside `item_ids`, a position outside 1..n_positions or a
    pscore outside (0, 1]; EmptyDataError on an empty frame.
    """
    for column in BANDIT_SCHEMA.names():
        if column not in frame.columns:
            raise DataFormatError("logged bandit frame", "missing column", column=column)
    if frame.height == 0:
        raise EmptyDataError("the logged bandit frame has no rows")
    actions = pl.DataFrame({ITEM: list(item_ids), "_action": np.arange(len(item_ids))})
    rounds = frame.select(ROUND).unique(maintain_order=True).with_row_index("_round")
    indexed = frame.join(actions, on=ITEM, how="left").join(rounds, on=ROUND, how="left")
    if indexed["_action"].null_count():
        raise DataFormatError("logged bandit frame", "item outside the action space", column=ITEM)
    positions = frame[POSITION].cast(pl.Int64).to_numpy() - 1
    n_positions = int(positions.max()) + 1 if n_positions is None else n_positions
    if positions.min() < 0 or positions.max() >= n_positions:
        raise DataFormatError("logged bandit frame", f"not in 1..{n_positions}", column=POSITION)
    pscore = frame[PSCORE].cast(pl.Float64).to_numpy()
    if not np.all((pscore > 0) & (pscore <= 1)):
        raise DataFormatError("logged bandit frame", "must be in (0, 1]", column=PSCORE)
    return LoggedFeedback(
        round_idx=indexed["_round"].cast(pl.Int64).to_numpy(),
        action=indexed["_action"].cast(pl.Int64).to_numpy(),
        position=positions,
        reward=frame[REWARD].cast(pl.Float64).to_numpy(),
        pscore=pscore,
        round_ids=tuple(rounds[ROUND].to_list()),
        item_ids=tuple(item_ids),
        n_positions=n_positions,
    )


def _check_action_dist(feedback: LoggedFeedback, action_dist: NDArray[np.float64]) -> None:
    n_rounds = len(feedback.round_ids)
    expected = (len(feedback.item_ids), feedback.n_positions)
    if action_dist.ndim != 3 or action_dist.shape[1:] != expected:
        raise ValueError(
            f"action_dist must be (n_rounds, {expected[0]}, {expected[1]}), got {action_dist.shape}"
        )
    if action_dist.shape[0] not in (1, n_rounds):
        raise ValueError(f"action_dist has {action_dist.shape[0]} rounds, the log {n_rounds}")
    if np.any(action_dist < 0) or not np.allclose(action_dist.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("action_dist[t, :, p] must be a probability distribution over actions")


def _row_rounds(feedback: LoggedFeedback, action_dist: NDArray[np.float64]) -> NDArray[np.int64]:
    """Index into action_dist's round axis for each row (0 for a broadcast policy)."""
    _check_action_dist(feedback, action_dist)
    return feedback.round_idx if action_dist.shape[0] > 1 else np.zeros_like(feedback.round_idx)


def importance_weights(
    feedback: LoggedFeedback, action_dist: NDArray[np.float64]
) -> NDArray[np.float64]:
    """wᵢ = π(aᵢ | roundᵢ, posᵢ) / pscoreᵢ, shape (n_rows,)."""
    rounds = _row_rounds(feedback, action_dist)
    return action_dist[rounds, feedback.action, feedback.position] / feedback.pscore


def _sums_by(index: NDArray[np.int64], values: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """Σ values per index value 0..n-1, shape (n,)."""
    return np.bincount(index, weights=values, minlength=n).astype(np.float64)


def _pair_sums(feedback: LoggedFeedback, values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Σ values per logged (action, position), shape (n_actions, n_positions)."""
    shape = (len(feedback.item_ids), feedback.n_positions)
    flat = np.ravel_multi_index((feedback.action, feedback.position), shape)
    return _sums_by(flat, values, shape[0] * shape[1]).reshape(shape)


def fit_ctr_model(feedback: LoggedFeedback, *, prior_strength: float = 10.0) -> NDArray[np.float64]:
    """Smoothed empirical CTR per (action, position), shape (n_actions, n_positions).

    q(a, p) = (clicks(a, p) + m · μ(p)) / (impressions(a, p) + m), with μ(p) the logged
    mean reward at position p and m = `prior_strength` pseudo-impressions: a Beta prior
    centred on the position's CTR, so unseen pairs get μ(p). Context is not used.
    Fitted on the whole log (no cross-fitting).
    """
    shown = _pair_sums(feedback, np.ones(feedback.n_rows))
    clicks = _pair_sums(feedback, feedback.reward)
    per_position = np.maximum(shown.sum(axis=0), 1)
    mu = clicks.sum(axis=0) / per_position
    q: NDArray[np.float64] = (clicks + prior_strength * mu) / (shown + prior_strength)
    return q


@dataclass(frozen=True)
class _Terms:
    """Per-row numerator and denominator terms of an estimator."""

    numerator: NDArray[np.float64]
    denominator: NDArray[np.float64]


def _ips_terms(feedback: LoggedFeedback, action_dist: NDArray[np.float64]) -> _Terms:
    w = importance_weights(feedback, action_dist)
    return _Terms(w * feedback.reward, np.ones(feedback.n_rows))


def _snips_terms(feedback: LoggedFeedback, action_dist: NDArray[np.float64]) -> _Terms:
    w = importance_weights(feedback, action_dist)
    return _Terms(w * feedback.reward, w)


def _dr_terms(
    feedback: LoggedFeedback, action_dist: NDArray[np.float64], q: NDArray[np.float64]
) -> _Terms:
    w = importance_weights(feedback, action_dist)
    expected = np.einsum("tap,ap->tp", action_dist, q)
    rounds = _row_rounds(feedback, action_dist)
    direct = expected[rounds, feedback.position]
    residual = feedback.reward - q[feedback.action, feedback.position]
    return _Terms(direct + w * residual, np.ones(feedback.n_rows))


def _estimate(
    feedback: LoggedFeedback, terms: _Terms, *, n_boot: int, seed: int, alpha: float
) -> Interval:
    """Σ numerator / Σ denominator with a bootstrap CI over rounds."""
    n_rounds = len(feedback.round_ids)
    num = _sums_by(feedback.round_idx, terms.numerator, n_rounds)
    den = _sums_by(feedback.round_idx, terms.denominator, n_rounds)
    return bootstrap_rate_ci(num, den, n_boot=n_boot, seed=seed, alpha=alpha)


def ips(
    feedback: LoggedFeedback,
    action_dist: NDArray[np.float64],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Interval:
    """Inverse propensity scoring estimate of reward per impression, with its CI."""
    terms = _ips_terms(feedback, action_dist)
    return _estimate(feedback, terms, n_boot=n_boot, seed=seed, alpha=alpha)


def snips(
    feedback: LoggedFeedback,
    action_dist: NDArray[np.float64],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Interval:
    """Self-normalised IPS: Σ w r / Σ w. Equals the logged mean reward when π = logging."""
    terms = _snips_terms(feedback, action_dist)
    return _estimate(feedback, terms, n_boot=n_boot, seed=seed, alpha=alpha)


def dr(
    feedback: LoggedFeedback,
    action_dist: NDArray[np.float64],
    reward_model: NDArray[np.float64],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Interval:
    """Doubly robust estimate; `reward_model` is q, shape (n_actions, n_positions)."""
    terms = _dr_terms(feedback, action_dist, reward_model)
    return _estimate(feedback, terms, n_boot=n_boot, seed=seed, alpha=alpha)


Estimator = Callable[[LoggedFeedback, NDArray[np.float64], NDArray[np.float64]], _Terms]

ESTIMATORS: Final[dict[str, Estimator]] = {
    "ips": lambda feedback, dist, _q: _ips_terms(feedback, dist),
    "snips": lambda feedback, dist, _q: _snips_terms(feedback, dist),
    "dr": _dr_terms,
}


def estimate_all(
    feedback: LoggedFeedback,
    action_dist: NDArray[np.float64],
    *,
    prior_strength: float = 10.0,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Interval]:
    """Every estimator of `ESTIMATORS`, DR with `fit_ctr_model(feedback, prior_strength)`.

    All share one seed, so their bootstrap replicates resample the same rounds.
    """
    q = fit_ctr_model(feedback, prior_strength=prior_strength)
    return {
        name: _estimate(
            feedback, terms(feedback, action_dist, q), n_boot=n_boot, seed=seed, alpha=alpha
        )
        for name, terms in ESTIMATORS.items()
    }


def empirical_action_dist(feedback: LoggedFeedback) -> NDArray[np.float64]:
    """A policy's marginal action distribution read off its own log, shape (1, A, P).

    π̂(a | p) = impressions of a at p / impressions at p. Consistent for a context-free
    policy whose parameters stay fixed over the log; it averages a learning policy's
    distribution over the logging period. Positions never logged raise DataFormatError.
    """
    shown = _pair_sums(feedback, np.ones(feedback.n_rows))
    per_position = shown.sum(axis=0)
    if np.any(per_position == 0):
        raise DataFormatError(
            "logged bandit frame", "a position has no impression", column=POSITION
        )
    dist: NDArray[np.float64] = (shown / per_position)[None, :, :]
    return dist


def arm_values(
    feedback: LoggedFeedback,
    in_arm: NDArray[np.bool_],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Interval]:
    """IPS and SNIPS of "serve every round with one experiment arm" from a log whose
    rounds drew their arm at random (recsvc's impression log).

    The arm is the action: π(row) = 1 for the rows of rounds that arm served
    (`in_arm`, shape (n_rows,)), 0 otherwise, and `pscore` is the arm's assignment
    probability, so wᵢ = 1[in_arm]ᵢ / pscoreᵢ and the estimates are the IPS / SNIPS
    formulas of the module docstring, reward per impression. DR is not offered: its
    direct term needs the slates the arm would have served in the other arms' rounds.
    """
    if in_arm.shape != feedback.reward.shape:
        raise ValueError(f"in_arm must have shape {feedback.reward.shape}, got {in_arm.shape}")
    w = in_arm.astype(np.float64) / feedback.pscore
    terms = {
        "ips": _Terms(w * feedback.reward, np.ones(feedback.n_rows)),
        "snips": _Terms(w * feedback.reward, w),
    }
    return {
        name: _estimate(feedback, term, n_boot=n_boot, seed=seed, alpha=alpha)
        for name, term in terms.items()
    }
