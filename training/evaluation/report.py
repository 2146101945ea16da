"""Reports: `report.json` (every number) and a self-contained `report.html` (the same
numbers with matplotlib figures embedded as base64 PNG).

`report_dict(evaluation)` builds the JSON document of an offline evaluation:
    meta fields (data, split, cutoff, bundle, seed, ks, n_boot, ci, tasks, strategies),
    "uplift": [{"task", "metric", "strategy", "baseline", "k", "value", "ci_low",
                "ci_high", "rate", "baseline_rate", "n_units"}, ...],
    "metrics", "slices", "funnel", "sources": the frames of `harness.Scores` as records.
Non-finite numbers become null. Nothing in it depends on the wall clock, so the same
inputs give the same file. `render_html` draws any such document; an A/B readout
(`training.evaluation.readout.readout_dict`) renders through the same function.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import polars as pl
from matplotlib.figure import Figure

from training.evaluation.harness import Evaluation

JSON_FILE: Final = "report.json"
HTML_FILE: Final = "report.html"
_HEADLINE_METRICS: Final = ("bid_rate", "click_rate")


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats → None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts."""
    cleaned: list[dict[str, Any]] = _clean(frame.to_dicts())
    return cleaned


def report_dict(evaluation: Evaluation) -> dict[str, Any]:
    """The JSON document of an offline evaluation (module docstring)."""
    scores = evaluation.scores
    document: dict[str, Any] = {
        "title": "recsvc offline evaluation (replay on a time split)",
        **evaluation.meta,
        "uplift": records(scores.uplift),
        "metrics": records(scores.metrics),
        "slices": records(scores.slices),
        "funnel": records(scores.funnel),
        "sources": records(scores.sources),
    }
    cleaned: dict[str, Any] = _clean(document)
    return cleaned


def write_report(document: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write `report.json` and `report.html` of `document` into `out_dir` (created)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / JSON_FILE, out_dir / HTML_FILE
    json_path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    html_path.write_text(render_html(document))
    return json_path, html_path


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{encoded}">'


def _tasks(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted({str(row["task"]) for row in rows})


def uplift_figure(uplift: Sequence[Mapping[str, Any]], *, k: int, baseline: str) -> str:
    """Bars of each strategy's uplift over `baseline` at `k` (headline metrics), with the
    95 % interval as error bars; a line at 1 (no uplift)."""
    rows = [
        r
        for r in uplift
        if r["k"] == k and r["baseline"] == baseline and r["metric"] in _HEADLINE_METRICS
    ]
    panels = sorted({(str(r["task"]), str(r["metric"])) for r in rows})
    if not panels:
        return ""
    figure, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.6), squeeze=False)
    for axis, (task, metric) in zip(axes[0], panels, strict=True):
        data = sorted(
            (r for r in rows if r["task"] == task and r["metric"] == metric and r["value"]),
            key=lambda r: -float(r["value"]),
        )
        values = [float(r["value"]) for r in data]
        low = [v - float(r["ci_low"] or v) for v, r in zip(values, data, strict=True)]
        high = [float(r["ci_high"] or v) - v for v, r in zip(values, data, strict=True)]
        colors = ["#c0392b" if r["strategy"] == "blend" else "#7f8c8d" for r in data]
        axis.bar([str(r["strategy"]) for r in data], values, yerr=[low, high], color=colors)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set_title(f"{task}: {metric} uplift over {baseline} @{k}")
        axis.tick_params(axis="x", rotation=45)
    return _png(figure)


def by_k_figure(metrics: Sequence[Mapping[str, Any]], *, kind: str = "bid") -> str:
    """Precision (hits per slot) and hit rate against k, one line per strategy."""
    rows = [r for r in metrics if r.get("kind") == kind]
    tasks = _tasks(rows)
    if not tasks:
        return ""
    figure, axes = plt.subplots(2, len(tasks), figsize=(4.8 * len(tasks), 6.4), squeeze=False)
    names = sorted({str(r["strategy"]) for r in rows})
    colors = {name: f"C{i % 10}" for i, name in enumerate(names)}
    for column, task in enumerate(tasks):
        for row_index, metric in enumerate(("precision", "hit_rate")):
            axis = axes[row_index][column]
            for strategy in sorted({str(r["strategy"]) for r in rows if r["task"] == task}):
                line = sorted(
                    (r for r in rows if r["task"] == task and r["strategy"] == strategy),
                    key=lambda r: int(r["k"]),
                )
                axis.plot(
                    [int(r["k"]) for r in line],
                    [r[metric] for r in line],
                    marker="o",
                    linewidth=2.5 if strategy == "blend" else 1.0,
                    label=strategy,
                    color=colors[strategy],
                )
            axis.set_title(f"{task}: {kind} {metric} by k")
            axis.set_xlabel("k")
            axis.set_xticks(sorted({int(r["k"]) for r in rows}))
        axes[0][column].legend(fontsize="x-small")
    figure.tight_layout()
    return _png(figure)


def funnel_figure(funnel: Sequence[Mapping[str, Any]], *, group: str = "task") -> str:
    """Slots served → clicked → bid (→ purchased), per strategy (or arm), log scale."""
    stages = [
        s
        for s in ("slots", "clicked_slots", "bid_slots", "purchased_slots")
        if any(r.get(s) is not None for r in funnel)
    ]
    groups = sorted({str(r[group]) for r in funnel})
    if not groups:
        return ""
    labels = sorted({str(r.get("strategy", r.get("arm"))) for r in funnel})
    colors = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    figure, axes = plt.subplots(1, len(groups), figsize=(5.2 * len(groups), 3.6), squeeze=False)
    for axis, name in zip(axes[0], groups, strict=True):
        rows = [r for r in funnel if str(r[group]) == name]
        width = 0.8 / max(len(rows), 1)
        for offset, row in enumerate(rows):
            label = str(row.get("strategy", row.get("arm")))
            heights = [float(row.get(s) or 0) for s in stages]
            positions = [i + offset * width for i in range(len(stages))]
            axis.bar(positions, heights, width, label=label, color=colors[label])
        axis.set_xticks([i + 0.4 - width / 2 for i in range(len(stages))], stages)
        axis.set_yscale("log")
        axis.set_title(f"funnel: {name}")
        axis.legend(fontsize="x-small")
    figure.tight_layout()
    return _png(figure)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape("" if value is None else str(value))


def table(rows: Sequence[Mapping[str, Any]], columns: Iterable[str]) -> str:
    """An HTML table of `rows` restricted to `columns`."""
    names = list(columns)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in names)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in names) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _number(value: Any) -> str:
    """Two decimals; a bound the bootstrap could not bound (inf, stored as null) is "∞"."""
    return "∞" if value is None else f"{value:.2f}"


def _uplift_text(row: Mapping[str, Any]) -> str:
    if row.get("value") is None:
        return "n/a"
    return f"{row['value']:.2f}× [{_number(row['ci_low'])}, {_number(row['ci_high'])}]"


def _headline(document: Mapping[str, Any], k: int) -> list[dict[str, Any]]:
    return [
        {**r, "uplift (95% CI)": _uplift_text(r)}
        for r in document.get("uplift", [])
        if r["k"] == k and r["metric"] in (*_HEADLINE_METRICS, "bid_hit_rate")
    ]


_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1200px; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
pre { background: #f8f8f8; padding: 1em; overflow-x: auto; font-size: 0.85em; }
"""


def _meta_block(document: Mapping[str, Any]) -> str:
    keys = ("data", "split", "cutoff", "bundle", "seed", "ks", "n_boot", "ci", "tasks")
    shown = {key: document[key] for key in keys if key in document}
    shown.update(
        {key: document[key] for key in ("experiment", "window", "arms") if key in document}
    )
    return f"<pre>{html.escape(json.dumps(shown, indent=1, sort_keys=True))}</pre>"


def _offline_sections(document: Mapping[str, Any]) -> list[str]:
    ks = document.get("ks") or [10]
    k = min(ks, key=lambda value: abs(value - 10))
    uplift = document.get("uplift", [])
    sections = [
        "<h2>Uplift over global popularity</h2>",
        uplift_figure(uplift, k=k, baseline="popular"),
    ]
    sections.append(
        table(
            _headline(document, k),
            (
                "task",
                "metric",
                "strategy",
                "baseline",
                "k",
                "rate",
                "baseline_rate",
                "uplift (95% CI)",
            ),
        )
    )
    sections += ["<h2>Metrics by k</h2>", by_k_figure(document.get("metrics", []))]
    if any(r.get("kind") == "click" for r in document.get("metrics", [])):
        sections.append(by_k_figure(document["metrics"], kind="click"))
    metric_columns = (
        "task", "kind", "strategy", "k", "n_requests", "n_evaluated", "hit_rate", "precision",
        "recall", "ndcg", "map", "revenue_per_1000_slots", "coverage", "novelty",
    )  # fmt: skip
    sections.append(table(document.get("metrics", []), metric_columns))
    funnel = document.get("funnel", [])
    sections += [f"<h2>Funnel at k = {k}</h2>", funnel_figure(funnel)]
    sections.append(
        table(funnel, ("task", "strategy", "slots", "clicked_slots", "bid_slots", "revenue"))
    )
    slices = [r for r in document.get("slices", []) if r["strategy"] == "blend"]
    sections += [
        "<h2>Per segment, country and new vs returning (blend vs popular, bid_rate)</h2>",
        table(
            [{**r, "uplift (95% CI)": _uplift_text(r)} for r in slices],
            (
                "task",
                "slice",
                "slice_value",
                "n_requests",
                "rate",
                "baseline_rate",
                "uplift (95% CI)",
            ),
        ),
        "<h2>Where the blend's slots come from</h2>",
        table(document.get("sources", []), ("task", "source", "slots", "share")),
    ]
    return sections


def _readout_sections(document: Mapping[str, Any]) -> list[str]:
    arm_columns = (
        "arm", "shoppers", "observed_share", "expected_share", "impressions", "slots",
        "ctr", "bid_rate", "purchase_rate", "revenue_per_impression", "revenue_per_shopper",
    )  # fmt: skip
    uplift = [{**r, "uplift (95% CI)": _uplift_text(r)} for r in document.get("uplift", [])]
    srm = document.get("srm", {})
    verdict = {True: "SUSPECTED: do not trust this readout", False: "no evidence", None: "n/a"}
    return [
        "<h2>Arms</h2>",
        table(document.get("arms", []), arm_columns),
        f"<h2>Uplift over {html.escape(str(document.get('control')))}</h2>",
        table(uplift, ("arm", "control", "metric", "uplift (95% CI)")),
        "<h2>Sample-ratio mismatch</h2>",
        f"<p>χ² = {_cell(srm.get('chi2'))}, p = {_cell(srm.get('p_value'))}: "
        f"{verdict[srm.get('srm_suspected')]}</p>",
        "<h2>Funnel</h2>",
        funnel_figure(document.get("funnel", []), group="arm"),
        table(
            document.get("funnel", []),
            ("arm", "slots", "rendered_slots", "clicked_slots", "bid_slots", "purchased_slots"),
        ),
    ]


def render_html(document: Mapping[str, Any]) -> str:
    """A self-contained HTML page of an offline evaluation or A/B readout document."""
    title = html.escape(str(document.get("title", "recsvc report")))
    parts = [f"<h1>{title}</h1>", _meta_block(document)]
    if "note" in document:
        parts.append(f"<p><strong>{html.escape(str(document['note']))}</strong></p>")
    if "arms" in document:
        parts += _readout_sections(document)
    else:
        parts += _offline_sections(document)
    body = "\n".join(p for p in parts if p)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>\n"
    )
