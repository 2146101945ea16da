"""Off-policy evaluation on the Open Bandit Dataset: estimate the Bernoulli TS policy's CTR
from the uniform-random log and compare with its on-policy CTR (the peer: the truth).

Two versions of the BTS policy's action distribution π(item | position):
  prior_mc   obp's reconstruction: Monte Carlo of Thompson sampling with ZOZOTOWN's
             production Beta prior (the policy at the start of data collection).
  empirical  the bts log's own impression frequencies per (item, position): what the
             policy actually showed, averaged over the week while it kept learning.

Run: .venv/bin/python benchmarks/bench_ope_obd.py  → benchmarks/results/ope_obd.json
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from training.evaluation import obd
from training.evaluation.bootstrap import Interval, bootstrap_ci
from training.evaluation.ope import (
    empirical_action_dist,
    estimate_all,
    importance_weights,
    logged_feedback,
)

ROOT = Path(__file__).resolve().parents[1]
OBD = ROOT / ".." / "shared" / "data" / "obd"
RESULT = ROOT / "benchmarks" / "results" / "ope_obd.json"
N_BOOT = 2000
N_SIM = 100_000
SEED = 0


def _row(interval: Interval, truth: float) -> dict[str, float]:
    return {**interval.as_dict(), "relative_error": abs(interval.estimate - truth) / truth}


def main() -> dict[str, Any]:
    random_dir, bts_dir = OBD / "random" / "all", OBD / "bts" / "all"
    items = obd.obd_item_ids(random_dir)
    random_log, bts_log = obd.load_obd(random_dir), obd.load_obd(bts_dir)
    feedback = logged_feedback(random_log, items, n_positions=obd.N_POSITIONS)
    bts_feedback = logged_feedback(bts_log, items, n_positions=obd.N_POSITIONS)

    started = time.perf_counter()
    policies = {
        "prior_mc": obd.bts_action_dist(n_sim=N_SIM, seed=SEED),
        "empirical": empirical_action_dist(bts_feedback),
    }
    policy_seconds = time.perf_counter() - started
    truth = bootstrap_ci(bts_feedback.reward, n_boot=N_BOOT, seed=SEED)

    started = time.perf_counter()
    estimates = {
        name: {
            estimator: _row(interval, truth.estimate)
            for estimator, interval in estimate_all(
                feedback, dist, n_boot=N_BOOT, seed=SEED
            ).items()
        }
        for name, dist in policies.items()
    }
    estimate_seconds = time.perf_counter() - started
    weights = {name: importance_weights(feedback, dist) for name, dist in policies.items()}
    ess = {name: float(w.sum() ** 2 / (w**2).sum()) for name, w in weights.items()}
    l1 = np.abs(policies["prior_mc"] - policies["empirical"]).sum(axis=1)[0]
    return {
        "dataset": "Open Bandit Dataset small sample, campaign all",
        "random_log": {
            "rows": feedback.n_rows,
            "clicks": int(feedback.reward.sum()),
            "ctr": float(feedback.reward.mean()),
        },
        "bts_log": {"rows": bts_feedback.n_rows, "clicks": int(bts_feedback.reward.sum())},
        "truth_bts_ctr": truth.as_dict(),
        "estimates_of_bts_ctr_from_random_log": estimates,
        "effective_sample_size": ess,
        "l1_prior_mc_vs_empirical_per_position": l1.tolist(),
        "ci": f"95% percentile bootstrap over rounds, {N_BOOT} replicates, seed {SEED}",
        "dr_reward_model": "smoothed CTR per (item, position), prior_strength 10",
        "seconds": {"policies": policy_seconds, "estimates": estimate_seconds},
    }


def _print(result: dict[str, Any]) -> None:
    truth = result["truth_bts_ctr"]
    print(f"BTS on-policy CTR: {truth['estimate']:.5f} [{truth['low']:.5f}, {truth['high']:.5f}]")
    print("effective sample size of the random log:", result["effective_sample_size"])
    print(f"{'policy':<10} {'estimator':<6} {'estimate':>9} {'95% CI':>21} {'rel.err':>8}")
    for policy, rows in result["estimates_of_bts_ctr_from_random_log"].items():
        for name, row in rows.items():
            ci = f"[{row['low']:.5f}, {row['high']:.5f}]"
            print(
                f"{policy:<10} {name:<6} {row['estimate']:>9.5f} {ci:>21} "
                f"{row['relative_error']:>8.3f}"
            )


if __name__ == "__main__":
    outcome = main()
    _print(outcome)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(outcome, indent=2) + "\n")
    print(f"saved {RESULT.relative_to(ROOT)}")
