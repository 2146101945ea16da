"""Publishing a bundle to object storage (s3a://, gs://, hdfs://) through Hadoop's FileSystem.

The bundle is always staged and verified locally first (`training.export.stage_bundle`:
the same files, checksums and `load_bundle` check as a local run). Then, on the remote
models directory:

1. the staged directory is copied to `<out>/.staging-<uuid>` and renamed to
   `<out>/<version>` (on object stores a rename is a copy; readers never list versions,
   they follow `current`, so a half-copied version is never picked up);
2. `<out>/current` is overwritten with the version, last. An object store's PUT is atomic,
   so readers see the old or the new pointer, never a torn one;
3. versions beyond `keep` (never the current one) are deleted.

Service replicas do not read object storage: a sync step (e.g. `aws s3 sync` / `gsutil
rsync` of the version directory, then of `current`) brings the bundle to the directory
the service polls, which then swaps to it as to a locally trained one (README).
Local paths and file:// URIs use `training.export.publish` instead (atomic rename).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from recsvc.artifacts.bundle import CURRENT_FILE
from recsvc.artifacts.manifest import MANIFEST_FILE
from training.errors import ExportError
from training.export import STAGING_PREFIX
from training.spark.hadoop import filesystem, hadoop_path


def publish_remote(spark: SparkSession, staging: Path, out_uri: str, *, keep: int) -> str:
    """Copy a staged local bundle to `out_uri`, move `current` there; returns the version."""
    version = json.loads((staging / MANIFEST_FILE).read_text())["version"]
    hadoop = _Hadoop(spark, out_uri)
    target = hadoop.path(version)
    try:
        if hadoop.fs.exists(target):
            raise ExportError(f"{out_uri}/{version} already exists; refusing to overwrite")
        temporary = hadoop.path(f"{STAGING_PREFIX}{uuid.uuid4().hex}")
        hadoop.fs.copyFromLocalFile(False, True, hadoop.local(staging), temporary)
        if not hadoop.fs.rename(temporary, target):
            raise ExportError(f"could not rename the uploaded bundle to {out_uri}/{version}")
        stream = hadoop.fs.create(hadoop.path(CURRENT_FILE), True)
        try:
            stream.write(bytearray(f"{version}\n".encode()))
        finally:
            stream.close()
        _prune(hadoop, keep=keep, current=version)
    except ExportError:
        raise
    except Exception as exc:  # py4j surfaces Hadoop's IOExceptions as Py4JJavaError
        raise ExportError(f"could not publish {version} to {out_uri}: {exc}") from exc
    return str(version)


class _Hadoop:
    """The Hadoop FileSystem of a models directory URI (`training.spark.hadoop`)."""

    def __init__(self, spark: SparkSession, root: str) -> None:
        self._spark = spark
        self._root = root.rstrip("/")
        self.fs, self.root = filesystem(spark, self._root)
        self.fs.mkdirs(self.root)

    def path(self, name: str) -> Any:
        return hadoop_path(self._spark, f"{self._root}/{name}")

    def local(self, path: Path) -> Any:
        return hadoop_path(self._spark, path.resolve().as_uri())


def _prune(hadoop: _Hadoop, *, keep: int, current: str) -> None:
    """Delete all but the `keep` newest published versions (never `current`)."""
    versions = sorted(
        status.getPath().getName()
        for status in hadoop.fs.listStatus(hadoop.root)
        if status.isDirectory()
        and not status.getPath().getName().startswith(".")
        and hadoop.fs.exists(hadoop.path(f"{status.getPath().getName()}/{MANIFEST_FILE}"))
    )
    for version in versions[: max(len(versions) - keep, 0)]:
        if version != current:
            hadoop.fs.delete(hadoop.path(version), True)
