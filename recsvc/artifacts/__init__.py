"""The contract between training and serving: parts, manifest, bundle read/write and checks."""

from recsvc.artifacts.bundle import Bundle, LoadedPart, load_bundle, read_current, write_current
from recsvc.artifacts.contract import PARTS, SCHEMA_VERSION, PartSpec
from recsvc.artifacts.manifest import Manifest, sha256_file
from recsvc.artifacts.part import Part, write_part

__all__ = [
    "PARTS",
    "SCHEMA_VERSION",
    "Bundle",
    "LoadedPart",
    "Manifest",
    "Part",
    "PartSpec",
    "load_bundle",
    "read_current",
    "sha256_file",
    "write_current",
    "write_part",
]
