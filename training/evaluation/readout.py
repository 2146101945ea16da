"""A/B readout from the service's event store (live traffic or a replay through the service).

Reads impressions created in [since, until) and the events of [since, until + lag) from
any `EventStore` (`open_store(url)`, the same code that reads production). An event
counts for a slot when it names the impression's `recommendation_id` and the slot's
`item_id` (the store links by recommendation id only; crediting a slot is done here).
Each slot counts at most once per event type; revenue sums the distinct events' amounts.

Per arm:
- impressions (served lists), slots, shoppers (the assignment unit: user id, else session
  id, else the recommendation itself), rendered slots (client `impression` events);
- CTR = clicked slots / slots; bid rate = slots with a bid / slots; purchase rate;
- revenue = Σ amount of the slots' bid events (the value of the bid items, as offline),
  per impression and per shopper; purchase revenue likewise from purchase events;
- uplift of each arm over the control arm with a 95 % bootstrap interval: shoppers are
  resampled independently within each arm (arms hold different shoppers, so unlike the
  offline replay the comparison is not paired);
- sample-ratio mismatch: Pearson χ² of shoppers per arm against the configured weights
  (by default the assignment propensities the service logged with every slot);
  `srm_suspected` when p < `SRM_ALPHA`;
- funnel: slots → rendered → clicked → bid → purchased.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import polars as pl
from scipy import stats

from recsvc.events import EventStore
from training.data.schema import ITEM, TS, USER
from training.errors import EmptyDataError
from training.evaluation.bootstrap import percentile_interval, replicate_sums
from training.evaluation.ope import POSITION, PSCORE, REWARD, ROUND
from training.evaluation.report import records

SRM_ALPHA: Final = 0.001
REC: Final = "recommendation_id"
ARM: Final = "arm"
UNIT: Final = "unit"
STAGES: Final = ("impression", "click", "bid", "purchase")
_SLOT_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    REC: pl.String,
    USER: pl.String,
    "session_id": pl.String,
    "endpoint": pl.String,
    "experiment": pl.String,
    ARM: pl.String,
    "model_version": pl.String,
    "created_at": pl.Datetime("us", "UTC"),
    ITEM: pl.String,
    "rank": pl.Int64,
    "strategy": pl.String,
    "propensity": pl.Float64,
}
SLOT_SCHEMA: Final = pl.Schema(_SLOT_COLUMNS)
_EVENT_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "event_id": pl.String,
    "type": pl.String,
    REC: pl.String,
    ITEM: pl.String,
    TS: pl.Datetime("us", "UTC"),
    "amount": pl.Float64,
}
EVENT_SCHEMA: Final = pl.Schema(_EVENT_COLUMNS)
# rate name → (numerator column, denominator column) of the per-unit sums
RATES: Final = {
    "ctr": ("clicked", "slots"),
    "bid_rate": ("bid", "slots"),
    "purchase_rate": ("purchased", "slots"),
    "revenue_per_impression": ("revenue", "impressions"),
    "revenue_per_shopper": ("revenue", "shoppers"),
}


@dataclass(frozen=True)
class Readout:
    """`arms`: one row per arm (counts, rates, expected share); `uplift`: arm vs control
    per rate with its interval; `srm`: the χ² check; `slots`: every served slot with its
    outcome flags (clicked, bid, purchased, rendered, revenue, purchase_revenue)."""

    arms: pl.DataFrame
    uplift: pl.DataFrame
    srm: dict[str, Any]
    slots: pl.DataFrame
    control: str
    window: tuple[datetime, datetime]


def served_slots(store: EventStore, since: datetime, until: datetime) -> pl.DataFrame:
    """One row per served slot of the impressions created in [since, until) (`SLOT_SCHEMA`)."""
    rows = [
        {**{k: v for k, v in imp.items() if k not in ("items", "context")}, **item}
        for imp in store.iter_impressions(since, until)
        for item in imp["items"]
    ]
    return pl.DataFrame(rows, schema=SLOT_SCHEMA) if rows else pl.DataFrame(schema=SLOT_SCHEMA)


def answering_events(store: EventStore, since: datetime, until: datetime) -> pl.DataFrame:
    """Events of [since, until) that name a recommendation (`EVENT_SCHEMA`)."""
    rows = [e for e in store.iter_events(since, until) if e["recommendation_id"] is not None]
    if not rows:
        return pl.DataFrame(schema=EVENT_SCHEMA)
    return pl.DataFrame(rows, schema_overrides=EVENT_SCHEMA).select(EVENT_SCHEMA.names())


def slot_outcomes(slots: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """`slots` with rendered / clicked / bid / purchased (0/1), revenue (Σ bid amounts) and
    purchase_revenue (Σ purchase amounts) from the events naming the slot."""
    per_slot = (
        events.unique("event_id")
        .group_by(REC, ITEM)
        .agg(
            *(
                (pl.col("type") == stage).any().cast(pl.Int64).alias(name)
                for stage, name in zip(
                    STAGES, ("rendered", "clicked", "bid", "purchased"), strict=True
                )
            ),
            revenue=pl.col("amount").filter(pl.col("type") == "bid").sum(),
            purchase_revenue=pl.col("amount").filter(pl.col("type") == "purchase").sum(),
        )
    )
    outcome = ("rendered", "clicked", "bid", "purchased", "revenue", "purchase_revenue")
    unit = pl.coalesce(USER, "session_id", REC).alias(UNIT)
    return (
        slots.join(per_slot, on=[REC, ITEM], how="left")
        .with_columns(pl.col(c).fill_null(0) for c in outcome)
        .with_columns(unit)
    )


def _unit_sums(slots: pl.DataFrame) -> pl.DataFrame:
    """Per (arm, unit): slots, impressions, outcome counts, revenues, shoppers = 1."""
    return slots.group_by(ARM, UNIT).agg(
        slots=pl.len().cast(pl.Float64),
        impressions=pl.col(REC).n_unique().cast(pl.Float64),
        **{
            c: pl.col(c).sum().cast(pl.Float64) for c in ("rendered", "clicked", "bid", "purchased")
        },
        revenue=pl.col("revenue").sum().cast(pl.Float64),
        purchase_revenue=pl.col("purchase_revenue").sum().cast(pl.Float64),
        shoppers=pl.lit(1.0),
    )


def _arm_table(units: pl.DataFrame, expected: Mapping[str, float]) -> pl.DataFrame:
    columns = ("slots", "impressions", "rendered", "clicked", "bid", "purchased", "revenue")
    totals = units.group_by(ARM).agg(
        *(pl.col(c).sum() for c in (*columns, "purchase_revenue", "shoppers"))
    )
    return (
        totals.with_columns(
            (pl.col(num) / pl.col(den)).alias(name) for name, (num, den) in RATES.items()
        )
        .with_columns(
            pl.col(ARM).replace_strict(dict(expected), default=None).alias("expected_share"),
            (pl.col("shoppers") / pl.col("shoppers").sum()).alias("observed_share"),
        )
        .sort(ARM)
    )


def _replicates(units: pl.DataFrame, arm: str, *, n_boot: int, seed: int) -> np.ndarray[Any, Any]:
    """Bootstrap replicates of every rate of `RATES` for one arm: (n_boot, len(RATES))."""
    columns = sorted({c for pair in RATES.values() for c in pair})
    matrix = units.filter(pl.col(ARM) == arm).select(columns).to_numpy().astype(np.float64)
    sums = replicate_sums(matrix, n_boot=n_boot, seed=seed)
    position = {c: i for i, c in enumerate(columns)}
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.column_stack(
            [sums[:, position[num]] / sums[:, position[den]] for num, den in RATES.values()]
        )


def _uplift(
    units: pl.DataFrame, arms: pl.DataFrame, control: str, *, n_boot: int, seed: int
) -> pl.DataFrame:
    names = arms[ARM].to_list()
    schema = {"arm": pl.String, "control": pl.String, "metric": pl.String, "value": pl.Float64,
              "ci_low": pl.Float64, "ci_high": pl.Float64}  # fmt: skip
    if control not in names:
        return pl.DataFrame(schema=schema)
    boot = {
        arm: _replicates(units, arm, n_boot=n_boot, seed=seed + i) for i, arm in enumerate(names)
    }
    rates = {row[ARM]: row for row in arms.iter_rows(named=True)}
    rows = []
    for arm in names:
        if arm == control:
            continue
        for j, metric in enumerate(RATES):
            base = rates[control][metric]
            if not base:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                interval = percentile_interval(
                    rates[arm][metric] / base, boot[arm][:, j] / boot[control][:, j]
                )
            rows.append(
                {
                    "arm": arm,
                    "control": control,
                    "metric": metric,
                    "value": interval.estimate,
                    "ci_low": interval.low,
                    "ci_high": interval.high,
                }
            )
    return pl.DataFrame(rows, schema=schema)


def sample_ratio_check(
    observed: Mapping[str, float], expected: Mapping[str, float]
) -> dict[str, Any]:
    """Pearson χ² of observed unit counts per arm against expected shares (renormalised
    over the arms observed). Arms without an expected share are reported, not tested."""
    arms = sorted(a for a in observed if expected.get(a))
    counts = np.array([observed[a] for a in arms], dtype=np.float64)
    shares = np.array([expected[a] for a in arms], dtype=np.float64)
    result: dict[str, Any] = {
        "arms": arms,
        "observed": counts.tolist(),
        "expected_share": (shares / shares.sum()).tolist() if arms else [],
        "untested_arms": sorted(set(observed) - set(arms)),
        "alpha": SRM_ALPHA,
    }
    if len(arms) < 2 or counts.sum() == 0:
        return {**result, "chi2": None, "p_value": None, "srm_suspected": None}
    test = stats.chisquare(counts, counts.sum() * shares / shares.sum())
    p_value = float(test.pvalue)
    return {**result, "chi2": float(test.statistic), "p_value": p_value,
            "srm_suspected": p_value < SRM_ALPHA}  # fmt: skip


def logged_weights(slots: pl.DataFrame) -> dict[str, float]:
    """Per arm, the assignment propensity the service logged (its most frequent value)."""
    modes = slots.group_by(ARM).agg(pl.col("propensity").mode().min())
    return {row[ARM]: float(row["propensity"]) for row in modes.iter_rows(named=True)}


def read_ab(
    store: EventStore,
    since: datetime,
    until: datetime,
    *,
    control: str = "popular",
    weights: Mapping[str, float] | None = None,
    experiment: str | None = None,
    lag: timedelta = timedelta(hours=24),
    n_boot: int = 1000,
    seed: int = 0,
) -> Readout:
    """The readout of the module docstring for impressions in [since, until) (of
    `experiment` only, when given). Raises `EmptyDataError` without any impression."""
    slots = served_slots(store, since, until)
    if experiment is not None:
        slots = slots.filter(pl.col("experiment") == experiment)
    if slots.is_empty():
        raise EmptyDataError(f"no impression served between {since} and {until}")
    slots = slots.with_columns(pl.col(ARM).fill_null("(none)"))
    scored = slot_outcomes(slots, answering_events(store, since, until + lag))
    units = _unit_sums(scored)
    expected = dict(weights) if weights is not None else logged_weights(slots)
    arms = _arm_table(units, expected)
    observed = dict(zip(arms[ARM].to_list(), arms["shoppers"].to_list(), strict=True))
    return Readout(
        arms=arms,
        uplift=_uplift(units, arms, control, n_boot=n_boot, seed=seed),
        srm=sample_ratio_check(observed, expected),
        slots=scored,
        control=control,
        window=(since, until),
    )


def funnel(readout: Readout) -> pl.DataFrame:
    """Per arm: slots, rendered, clicked, bid and purchased slots."""
    return readout.arms.select(
        ARM,
        "slots",
        pl.col("rendered").alias("rendered_slots"),
        pl.col("clicked").alias("clicked_slots"),
        pl.col("bid").alias("bid_slots"),
        pl.col("purchased").alias("purchased_slots"),
    )


def readout_dict(readout: Readout, *, note: str | None = None) -> dict[str, Any]:
    """The JSON document of a readout (rendered by `training.evaluation.report`)."""
    document: dict[str, Any] = {
        "title": "recsvc A/B readout (event store)",
        "window": [readout.window[0].isoformat(), readout.window[1].isoformat()],
        "control": readout.control,
        "arms": records(readout.arms),
        "uplift": records(readout.uplift),
        "srm": readout.srm,
        "funnel": records(funnel(readout)),
        "ci": "95% percentile bootstrap over shoppers, resampled within each arm",
    }
    if note:
        document["note"] = note
    return document


def bandit_frame(readout: Readout) -> pl.DataFrame:
    """The served slots as a logged-bandit frame (`training.evaluation.ope`): round =
    recommendation, reward = clicked, pscore = the logged propensity, ctx_arm = arm."""
    return readout.slots.select(
        pl.col(REC).alias(ROUND),
        pl.col("created_at").alias(TS),
        ITEM,
        pl.col("rank").cast(pl.Int16).alias(POSITION),
        pl.col("clicked").cast(pl.Float64).alias(REWARD),
        pl.col("propensity").alias(PSCORE),
        pl.col(ARM).alias("ctx_arm"),
    )
