"""QualityReport: the counting invariant, JSON form and the rendered table."""

from __future__ import annotations

import json

from rich.console import Console

from training.data.quality import FileQuality, QualityReport


def report() -> QualityReport:
    first = FileQuality("data/a.csv", "online-retail", 10, 7, {"exact duplicate line": 3})
    first.note("returns", 2)
    second = FileQuality("data/b.parquet", "online-retail-ii", 5, 5)
    second.reject("duplicate of an event in an earlier file", 4)
    second.note("anonymous", 1)
    second.note("returns", 0)  # zero counts are not recorded
    result = QualityReport()
    result.add(first)
    result.add(second)
    return result


def test_reject_moves_kept_rows_and_keeps_the_balance() -> None:
    quality = report()
    second = quality.files[1]
    assert (second.rows_kept, second.rows_rejected) == (1, 4)
    assert quality.balanced
    assert quality.rows_read == quality.rows_kept + sum(quality.rejected.values())
    assert not FileQuality("x", "y", rows_read=3, rows_kept=3, rejected={"r": 1}).balanced


def test_totals_and_json_form() -> None:
    data = json.loads(json.dumps(report().to_dict()))
    assert data["rows_read"] == 15 and data["rows_kept"] == 8 and data["rows_rejected"] == 7
    assert data["rejected"] == {
        "duplicate of an event in an earlier file": 4,
        "exact duplicate line": 3,
    }
    assert data["info"] == {"anonymous": 1, "returns": 2}
    assert [f["path"] for f in data["files"]] == ["data/a.csv", "data/b.parquet"]
    assert data["files"][1]["info"] == {"anonymous": 1}


def test_render_lists_files_reasons_and_total() -> None:
    console = Console(width=160, record=True)
    console.print(report().render())
    text = console.export_text()
    for expected in ("a.csv [online-retail]", "  exact duplicate line", "total", "15"):
        assert expected in text
