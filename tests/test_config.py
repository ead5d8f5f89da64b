"""robotops.yaml: defaults, and one clear UsageError for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotops.config import load_config
from robotops.errors import UsageError


def test_values_override_defaults(tmp_path: Path) -> None:
    path = tmp_path / "robotops.yaml"
    path.write_text("dataset: halls\nsync: {max_gap_ms: 30}\n")
    config = load_config(path)
    assert config.dataset == "halls" and config.sync.max_gap_ms == 30 and config.store == "datasets"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "no such configuration file"),
        ("sync: [\n", r"not valid YAML \(ParserError\)"),
        ("sync: {max_gap_ms: -1}\n", "sync.max_gap_ms: Input should be greater than 0"),
        ("colour: blue\n", "colour: Extra inputs are not permitted"),
    ],
)
def test_mistakes_are_one_line_naming_file_and_key(
    tmp_path: Path, text: str | None, message: str
) -> None:
    path = tmp_path / "robotops.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(UsageError, match=message) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
