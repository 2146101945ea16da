"""The training config: TOML in, manifest params out, and back, with named refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.config import ConfigFileError, TrainingConfig, config_from_dict, load_config


def test_manifest_params_read_back_to_the_same_config() -> None:
    config = config_from_dict({"rules": {"min_support": 0.01}, "als": {"factors": 8}})
    written = json.loads(json.dumps(config.to_dict()))
    assert config_from_dict(written) == config


def test_toml_file_sets_nested_values_and_converts_ints(tmp_path: Path) -> None:
    path = tmp_path / "recsvc.toml"
    path.write_text("[als]\nregularization = 2\n[als.confidence]\nview = 1\n")
    config = load_config(path)
    assert config.als.regularization == 2.0 and config.als.confidence.view == 1.0
    assert config.rules == TrainingConfig().rules


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"rulez": {}}, "unknown section"),
        ({"rules": {"min_suport": 0.1}}, "min_suport"),
        ({"rules": {"min_support": "high"}}, "expected float"),
        ({"rules": 3}, "expected a table"),
    ],
)
def test_mistakes_are_refused_naming_the_key(raw: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigFileError, match=needle):
        config_from_dict(raw)


def test_unreadable_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[rules\n")
    with pytest.raises(ConfigFileError, match=r"broken\.toml"):
        load_config(path)
