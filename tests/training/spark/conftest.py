"""One local Spark session for every Spark test (the JVM takes 10-20 s to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pyspark = pytest.importorskip("pyspark", reason="the spark extra is not installed")

from pyspark.sql import SparkSession  # noqa: E402

from training.spark.session import build_session  # noqa: E402


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = build_session("local[2]", {"spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()
