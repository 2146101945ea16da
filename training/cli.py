"""`recsvc` command line: train, rules, serve, evaluate, ope.

Heavy libraries are imported inside the commands, so `recsvc serve` starts without
polars, implicit or lightfm (the serving image does not have them).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from recsvc.errors import RecsvcError
from training.errors import TrainingError

if TYPE_CHECKING:
    from training.config import TrainingConfig
    from training.pipeline import TrainResult

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


class Engine(StrEnum):
    """Where `recsvc train` runs: polars on one machine, or Spark."""

    polars = "polars"
    spark = "spark"


class UsageError(TrainingError):
    """A combination of options that cannot work; the message says which."""


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
    data: Annotated[
        list[str],
        typer.Option("--data", help="Input file (a URI with --engine spark); repeat for several."),
    ],
    out: Annotated[
        str, typer.Option("--out", help="Models directory to publish into (URI with spark).")
    ],
    fmt: FormatOption = None,
    config: Annotated[Path | None, typer.Option("--config", exists=True)] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    window: Annotated[int | None, typer.Option("--window", help="Keep the last N days.")] = None,
    catalog: Annotated[Path | None, typer.Option("--catalog", exists=True)] = None,
    gate: Annotated[
        bool, typer.Option("--gate", help="Publish only if not worse than OUT/current.")
    ] = False,
    gate_tolerance: Annotated[float, typer.Option("--gate-tolerance", min=0.0, max=0.99)] = 0.02,
    force_publish: Annotated[
        bool, typer.Option("--force-publish", help="Publish even if the gate refuses.")
    ] = False,
    event_store: Annotated[
        str | None,
        typer.Option("--event-store", help="Service store URL: its erased users are excluded."),
    ] = None,
    engine: Annotated[
        Engine, typer.Option("--engine", help="polars (one machine) or spark (a cluster).")
    ] = Engine.polars,
    spark_master: Annotated[
        str | None,
        typer.Option("--spark-master", help="e.g. local[2], yarn; default: spark-submit's."),
    ] = None,
    spark_conf: Annotated[
        list[str] | None, typer.Option("--spark-conf", help="key=value; repeat for several.")
    ] = None,
) -> None:
    """Train every model and publish a verified bundle as OUT/<version>, then move OUT/current."""
    from training.config import load_config
    from training.console import RichProgress, print_train_summary
    from training.data.formats import pair_formats
    from training.evaluation.gate import GateConfig, make_gate
    from training.pipeline import SourceSpec
    from training.pipeline import train as run_train

    with _clear_errors():
        if engine is Engine.spark:
            if gate:
                raise UsageError("--gate needs --engine polars (it replays the polars data)")
            result = _train_on_spark(
                pair_formats(data, fmt),
                load_config(config),
                out,
                master=spark_master,
                conf=_key_values(spark_conf or []),
                seed=seed,
                window=window,
                catalog=None if catalog is None else str(catalog),
                erased=erased_user_ids(event_store),
            )
            print_train_summary(result)
            return
        paths = [_existing(path) for path in data]
        specs = [SourceSpec(path, name) for path, name in pair_formats(paths, fmt)]
        hook = (
            make_gate(Path(out), GateConfig(tolerance=gate_tolerance), force=force_publish)
            if gate
            else None
        )
        with RichProgress() as progress:
            result = run_train(
                specs,
                load_config(config),
                Path(out),
                seed=seed,
                window_days=window,
                catalog_path=catalog,
                progress=progress,
                gate=hook,
                erased_users=erased_user_ids(event_store),
            )
        print_train_summary(result)


def _train_on_spark(
    sources: list[tuple[str, str]],
    config: TrainingConfig,
    out: str,
    *,
    master: str | None,
    conf: dict[str, str],
    seed: int,
    window: int | None,
    catalog: str | None,
    erased: frozenset[str],
) -> TrainResult:
    from training.console import RichProgress
    from training.spark.pipeline import train_spark
    from training.spark.session import DEFAULT_MASTER, spark_session

    in_submit = "SPARK_ENV_LOADED" in os.environ or "spark.master" in conf
    with (
        spark_session(master or (None if in_submit else DEFAULT_MASTER), conf) as spark,
        RichProgress() as progress,
    ):
        return train_spark(
            spark,
            sources,
            config,
            out,
            seed=seed,
            window_days=window,
            catalog_path=catalog,
            progress=progress,
            erased_users=erased,
        )


def _key_values(pairs: list[str]) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise UsageError(f"--spark-conf {pair!r}: expected key=value")
        parsed[key.strip()] = value.strip()
    return parsed


def _existing(path: str) -> Path:
    if not Path(path).is_file():
        raise UsageError(f"--data {path}: no such file (URIs need --engine spark)")
    return Path(path)


def erased_user_ids(store_url: str | None) -> frozenset[str]:
    """User ids erased through the service's `DELETE /v1/users/{id}` (none without a URL)."""
    if store_url is None:
        return frozenset()
    from recsvc.events import open_store

    store = open_store(store_url)
    try:
        return frozenset(store.deleted_users())
    finally:
        store.close()


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


@app.command()
def evaluate(
    models: Annotated[
        Path, typer.Option("--models", help="Models directory (its `current` recipe).")
    ],
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", help="Directory for report.html and report.json.")],
    fmt: FormatOption = None,
    cutoff: Annotated[
        str | None, typer.Option("--cutoff", help="YYYY-MM-DD or ISO time (default: last 20 %).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    max_requests: Annotated[
        int | None, typer.Option("--max-requests", min=1, help="Sample this many per task.")
    ] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", min=100)] = 1000,
) -> None:
    """Replay held-out shoppers through the ranking code; write uplift with intervals."""
    from training.console import RichProgress, console
    from training.evaluation.cli_commands import run_evaluate

    with _clear_errors():
        with RichProgress() as progress:
            result = run_evaluate(
                models,
                data,
                out,
                formats=fmt,
                cutoff=cutoff,
                seed=seed,
                max_requests=max_requests,
                n_boot=n_boot,
                progress=progress,
            )
        uplift = result.evaluation.scores.uplift
        for row in uplift.filter(
            (uplift["baseline"] == "popular")
            & (uplift["k"] == 10)
            & (uplift["strategy"] == "blend")
        ).iter_rows(named=True):
            console.print(
                f"{row['task']:<11} {row['metric']:<17} blend/popular@10 = {row['value']:.2f}x "
                f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
            )
        typer.echo(result.html_path)


@app.command()
def ope(
    log: Annotated[str, typer.Option("--log", help="OBD campaign dir, or recsvc store file/URL.")],
    fmt: Annotated[str, typer.Option("--format", help="obd|recsvc")],
    out: Annotated[Path, typer.Option("--out", help="JSON file to write.")] = Path("ope.json"),
    truth: Annotated[
        Path | None, typer.Option("--truth", help="obd: the evaluated policy's own log.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    n_boot: Annotated[int, typer.Option("--n-boot", min=100)] = 1000,
) -> None:
    """Off-policy estimates (IPS, SNIPS, DR) with 95 % intervals; printed and saved."""
    import json

    from training.evaluation.cli_commands import run_ope

    with _clear_errors():
        result = run_ope(log, fmt, out, truth_log=truth, n_boot=n_boot, seed=seed)
        typer.echo(json.dumps(result, indent=1, sort_keys=True))
        typer.echo(f"saved {out}")


@app.command()
def simulate(
    url: Annotated[str, typer.Option("--url", help="The running service.")],
    data: DataOption,
    cutoff: Annotated[str, typer.Option("--cutoff", help="YYYY-MM-DD: replay what follows.")],
    fmt: FormatOption = None,
    shoppers: Annotated[int | None, typer.Option("--shoppers", min=1)] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """REPLAY held-out shoppers against the service (not a real experiment)."""
    import json

    import httpx

    from training.data.formats import pair_formats
    from training.data.load import load_sources
    from training.evaluation.cli_commands import parse_moment
    from training.evaluation.simulator import replay_tasks
    from training.evaluation.simulator import simulate as run_replay

    with _clear_errors():
        loaded = load_sources(list(pair_formats(data, fmt)))
        tasks = replay_tasks(loaded.events, parse_moment(cutoff), shoppers=shoppers, seed=seed)
        with httpx.Client(base_url=url, timeout=30.0) as client:
            summary = run_replay(client, tasks)
        typer.echo(json.dumps(summary.as_dict(), indent=1, sort_keys=True))


@app.command()
def readout(
    store: Annotated[str, typer.Option("--store", help="Event store URL, e.g. sqlite:///x.db")],
    out: Annotated[Path, typer.Option("--out", help="Directory for readout.json.")] = Path("."),
) -> None:
    """A/B readout of the event store: per-arm table, uplift, SRM; saved as JSON."""
    import json
    from datetime import UTC, datetime

    from recsvc.events import open_store
    from training.evaluation.readout import read_ab, readout_dict

    with _clear_errors():
        result = read_ab(open_store(store), datetime(1970, 1, 1, tzinfo=UTC), datetime.now(UTC))
        document = readout_dict(result)
        typer.echo(result.arms)
        typer.echo(result.uplift)
        typer.echo(json.dumps(result.srm))
        out.mkdir(parents=True, exist_ok=True)
        (out / "readout.json").write_text(json.dumps(document, indent=1, default=str))
        typer.echo(f"saved {out / 'readout.json'}")
