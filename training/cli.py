"""`recsvc` command line: train, rules, serve, evaluate, ope.

Heavy libraries are imported inside the commands, so `recsvc serve` starts without
polars, implicit or lightfm (the serving image does not have them).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from recsvc.errors import RecsvcError
from training.errors import TrainingError

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit warns (and slows) otherwise

app = typer.Typer(
    name="recsvc",
    help="Cross-sell recommendations: train bundles, mine rules, serve, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

FORMATS = "online-retail|online-retail-ii|groceries|rees46|retailrocket|csv"
DataOption = Annotated[
    list[Path], typer.Option("--data", help="Input file; repeat for several.", exists=True)
]
FormatOption = Annotated[
    list[str] | None,
    typer.Option("--format", help=f"{FORMATS}; one per --data, or one for all (default: guess)."),
]


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Named errors become one line on stderr and exit code 2, not a traceback."""
    try:
        yield
    except (TrainingError, RecsvcError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from exc


@app.command()
def train(
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", help="Models directory to publish into.")],
    fmt: FormatOption = None,
    config: Annotated[Path | None, typer.Option("--config", exists=True)] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    window: Annotated[int | None, typer.Option("--window", help="Keep the last N days.")] = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", exists=True)] = None,
) -> None:
    """Train every model and publish a verified bundle as OUT/<version>, then move OUT/current."""
    from training.config import load_config
    from training.console import RichProgress, print_train_summary
    from training.data.formats import pair_formats
    from training.pipeline import SourceSpec
    from training.pipeline import train as run_train

    with _clear_errors():
        specs = [SourceSpec(path, name) for path, name in pair_formats(data, fmt)]
        with RichProgress() as progress:
            result = run_train(
                specs,
                load_config(config),
                out,
                seed=seed,
                window_days=window,
                catalog_path=catalog,
                progress=progress,
            )
        print_train_summary(result)


@app.command()
def rules(
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    min_support: Annotated[float, typer.Option("--min-support", min=0.0, max=1.0)],
    min_confidence: Annotated[float, typer.Option("--min-confidence", min=0.0, max=1.0)],
    fmt: FormatOption = None,
    max_len: Annotated[int, typer.Option("--max-len", min=2, max=10)] = 4,
) -> None:
    """Mine association rules (one item on the right) and write them as CSV for analysts."""
    from training.data.dataset import build_dataset
    from training.data.formats import pair_formats
    from training.data.load import load_sources
    from training.data.matrices import basket_item_matrix
    from training.models.rules import mine_rules, rules_to_csv

    with _clear_errors():
        loaded = load_sources(pair_formats(data, fmt))
        dataset = build_dataset(loaded.events, loaded.catalog)
        baskets = basket_item_matrix(dataset.events, dataset.n_items)
        rule_set = mine_rules(
            baskets, min_support=min_support, min_confidence=min_confidence, max_len=max_len
        )
        rules_to_csv(rule_set, dataset.item_ids, out)
        typer.echo(f"{len(rule_set)} rules from {baskets.shape[0]} baskets written to {out}")


@app.command()
def serve(
    models: Annotated[Path, typer.Option("--models", help="Models directory (with `current`).")],
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64)] = 1,
) -> None:
    """Serve the HTTP API over the bundle MODELS/current (settings: RECSVC_* variables)."""
    import uvicorn

    os.environ["RECSVC_MODELS_DIR"] = str(models.resolve())
    typer.echo(f"recsvc serving {models}/current on http://{host}:{port} ({workers} worker(s))")
    uvicorn.run(
        "recsvc.main:app",
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def main() -> None:
    """Entry point for `python -m training`."""
    sys.exit(app())
