"""One SparkSession per training run, configured so that local mode behaves like a cluster.

Settings that matter for equal results across engines: the SQL session time zone is UTC
(the canonical schema's timestamps are UTC), and the workers run the driver's Python
(`PYSPARK_PYTHON`, else they would start the system interpreter without the job's
packages). `SPARK_LOCAL_IP` defaults to loopback for local masters, where Spark would
otherwise bind a non-loopback address. On a real cluster `spark-submit` supplies the
master and resources; `--spark-conf key=value` adds anything else.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from pyspark.sql import SparkSession

from training.errors import TrainingError

DEFAULT_MASTER: Final = "local[2]"
_DEFAULTS: Final[dict[str, str]] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "4g",
}


class SparkEngineError(TrainingError):
    """Spark could not start, or a Spark job failed; the message says which and why."""


def build_session(
    master: str | None = DEFAULT_MASTER,
    conf: Mapping[str, str] | None = None,
    *,
    app_name: str = "recsvc-train",
) -> SparkSession:
    """Start (or join) a SparkSession. `master=None` leaves it to `spark-submit`."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if master is None or master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    for key, value in {**_DEFAULTS, **(conf or {})}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j / JVM start-up failures have no common base class
        raise SparkEngineError(
            f"could not start Spark (master {master!r}): {exc}; Spark needs Java 17 on PATH "
            "or JAVA_HOME, and `pip install 'recsvc[spark]'`"
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def spark_session(
    master: str | None = DEFAULT_MASTER, conf: Mapping[str, str] | None = None
) -> Iterator[SparkSession]:
    """A session for one run, stopped at the end."""
    session = build_session(master, conf)
    try:
        yield session
    finally:
        session.stop()
