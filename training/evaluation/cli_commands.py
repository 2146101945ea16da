"""What the `recsvc evaluate` and `recsvc ope` commands do, as plain functions.

The typer commands in `training.cli` only parse options and print; these functions do
the work and return what they wrote, so notebooks and tests can call them directly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np

from recsvc.events import open_store
from training.data.formats import pair_formats
from training.errors import DataFormatError, TrainingError
from training.evaluation import obd
from training.evaluation.bootstrap import Interval, bootstrap_ci
from training.evaluation.harness import Evaluation, evaluate
from training.evaluation.ope import arm_values, estimate_all, logged_feedback
from training.evaluation.readout import Readout, bandit_frame, read_ab, readout_dict
from training.evaluation.report import report_dict, write_report
from training.pipeline import SourceSpec
from training.stages import ProgressHook

OPE_FORMATS: Final = ("obd", "recsvc")
_ALL_TIME: Final = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))


class OpeFormatError(TrainingError):
    """`recsvc ope --format` names no known log format."""


def parse_moment(text: str) -> datetime:
    """`YYYY-MM-DD` (midnight) or an ISO date-time; naive values are UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise DataFormatError(
            "--cutoff", f"expected YYYY-MM-DD or an ISO date-time, got {text!r}"
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class EvaluateResult:
    """The evaluation and the two report files."""

    evaluation: Evaluation
    json_path: Path
    html_path: Path


def run_evaluate(
    models_dir: Path,
    data: Sequence[Path],
    out_dir: Path,
    *,
    formats: Sequence[str] | None = None,
    cutoff: str | None = None,
    seed: int = 0,
    max_requests: int | None = None,
    n_boot: int = 1000,
    progress: ProgressHook | None = None,
) -> EvaluateResult:
    """Offline replay of `data` (see `training.evaluation.harness.evaluate`), written to
    `out_dir/report.json` and `out_dir/report.html`."""
    sources = [SourceSpec(path, name) for path, name in pair_formats(data, formats)]
    evaluation = evaluate(
        sources,
        models_dir=models_dir,
        cutoff=parse_moment(cutoff) if cutoff else None,
        seed=seed,
        max_requests=max_requests,
        n_boot=n_boot,
        progress=progress,
    )
    json_path, html_path = write_report(report_dict(evaluation), out_dir)
    return EvaluateResult(evaluation, json_path, html_path)


def _interval(value: Interval, truth: float | None = None) -> dict[str, float]:
    row = value.as_dict()
    if truth:
        row["relative_error"] = abs(value.estimate - truth) / truth
    return row


def _obd_directory(path: Path) -> Path:
    return path.parent if path.is_file() else path


def ope_obd(
    log: Path, *, truth_log: Path | None = None, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """IPS, SNIPS and DR estimates of ZOZOTOWN's Bernoulli TS CTR (its production prior,
    `obd.bts_action_dist`) from an Open Bandit Dataset campaign log; with `truth_log`
    (that policy's own log), its on-policy CTR and each estimate's relative error."""
    directory = _obd_directory(log)
    items = obd.obd_item_ids(directory)
    feedback = logged_feedback(obd.load_obd(directory), items, n_positions=obd.N_POSITIONS)
    policy = obd.bts_action_dist(seed=seed)
    truth: Interval | None = None
    if truth_log is not None:
        own = obd.load_obd(_obd_directory(truth_log))
        truth = bootstrap_ci(own["reward"].to_numpy(), n_boot=n_boot, seed=seed)
    estimates = estimate_all(feedback, policy, n_boot=n_boot, seed=seed)
    return {
        "format": "obd",
        "log": str(directory),
        "policy": "Bernoulli Thompson sampling with ZOZOTOWN's production prior",
        "rows": feedback.n_rows,
        "logged_ctr": float(np.mean(feedback.reward)),
        "estimates": {
            name: _interval(value, truth.estimate if truth else None)
            for name, value in estimates.items()
        },
        "on_policy_truth": truth.as_dict() if truth else None,
        "ci": f"95% percentile bootstrap over rounds, {n_boot} replicates, seed {seed}",
    }


def _store_url(log: str) -> str:
    return log if "://" in log else f"sqlite:///{Path(log).resolve()}"


def ope_recsvc(log: str, *, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Per experiment arm, IPS and SNIPS of its click rate per slot had it served every
    request (`ope.arm_values`), from a recsvc event store (`sqlite:///...` URL or the
    SQLite file's path); clicks on the served slots are the reward."""
    store = open_store(_store_url(log))
    try:
        readout = read_ab(store, *_ALL_TIME, n_boot=n_boot, seed=seed)
    finally:
        store.close()
    frame = bandit_frame(readout)
    items = sorted(frame["item_id"].unique().to_list())
    feedback = logged_feedback(frame, items)
    arms = frame["ctx_arm"].to_numpy()
    return {
        "format": "recsvc",
        "log": log,
        "rows": feedback.n_rows,
        "logged_ctr": float(np.mean(feedback.reward)),
        "arms": {
            str(arm): {
                "logged_ctr": float(feedback.reward[arms == arm].mean()),
                **{
                    name: value.as_dict()
                    for name, value in arm_values(
                        feedback, arms == arm, n_boot=n_boot, seed=seed
                    ).items()
                },
            }
            for arm in sorted(set(arms.tolist()))
        },
        "ci": f"95% percentile bootstrap over recommendations, {n_boot} replicates, seed {seed}",
    }


def run_ope(
    log: str,
    fmt: str,
    out: Path,
    *,
    truth_log: Path | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Off-policy estimates of a log (`fmt` in `OPE_FORMATS`), also written to `out` (JSON)."""
    if fmt == "obd":
        result = ope_obd(Path(log), truth_log=truth_log, n_boot=n_boot, seed=seed)
    elif fmt == "recsvc":
        result = ope_recsvc(log, n_boot=n_boot, seed=seed)
    else:
        raise OpeFormatError(f"unknown log format {fmt!r}; choose one of {OPE_FORMATS}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    return result


def run_readout(
    store_url: str,
    since: str,
    until: str,
    out_dir: Path,
    *,
    control: str = "popular",
    experiment: str | None = None,
    note: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Readout:
    """The A/B readout of `training.evaluation.readout` from a store URL (or SQLite
    path), written as `out_dir/report.json` and `out_dir/report.html`."""
    store = open_store(_store_url(store_url))
    try:
        readout = read_ab(
            store,
            parse_moment(since),
            parse_moment(until),
            control=control,
            experiment=experiment,
            n_boot=n_boot,
            seed=seed,
        )
    finally:
        store.close()
    write_report(readout_dict(readout, note=note), out_dir)
    return readout
