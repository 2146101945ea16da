"""Paths and URIs for the Spark engine: what is local, and Hadoop's FileSystem for the rest.

Sources and models directories may be plain paths or URIs (file://, s3a://, gs://,
hdfs://). Everything that reads or writes them outside Spark's own readers goes through
`filesystem`, so the cluster's connectors and credentials apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pyspark.sql import SparkSession


def local_path(target: str) -> Path | None:
    """The local file or directory behind a plain path or file:// URI; None otherwise."""
    parsed = urlparse(target)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a Windows drive letter
        return Path(target)
    return None


def filesystem(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    """(Hadoop FileSystem, Hadoop Path) of `uri`, through the session's JVM (py4j objects).

    `spark._jvm` and `_jsc` are private, but the only way to Hadoop's FileSystem API."""
    jvm: Any = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path


def hadoop_path(spark: SparkSession, uri: str) -> Any:
    """A Hadoop Path (for FileSystem calls that take a second path)."""
    jvm: Any = spark._jvm
    return jvm.org.apache.hadoop.fs.Path(uri)
