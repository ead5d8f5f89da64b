"""params.yaml: valid files load; every kind of mistake is one clear UsageError naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from robotops.errors import UsageError
from robotops.train.params import load_params


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_a_full_file_loads(tmp_path: Path) -> None:
    params = load_params(
        write(
            tmp_path,
            "train:\n  dataset: doors@3\n  model: camera\n  seed: 7\n  epochs: 4\n  lr: 0.01\n"
            "  preprocess: {image_height: 32, image_width: 32}\n"
            "  augment: {flip_prob: 0.5}\n  early_stopping: {patience: 2}\n",
        )
    )
    assert params.dataset == "doors@3" and params.model == "camera" and params.seed == 7
    assert params.spec().image_height == 32 and params.augmentation().flip_prob == 0.5
    assert params.early_stopping.patience == 2 and params.batch_size == 32


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train:\n  dataset: doors@3\n  epochs: 0\n", "train.epochs"),
        ("train:\n  dataset: doors@3\n  lr: fast\n", "train.lr"),
        ("train:\n  dataset: doors@3\n  colour: blue\n", "train.colour"),
        ("train:\n  model: camera\n", "train.dataset"),
        ("train:\n  dataset: 'doors@@3'\n", "train.dataset"),
        ("train:\n  dataset: doors@3\n  preprocess: {image_height: -1}\n", "image_height"),
        ("train:\n  dataset: doors@3\n  augment: {flip_prob: 2}\n", "flip_prob"),
        ("train:\n  dataset: doors\n", "names no version"),
        ("train:\n  dataset: doors@3\n  model: resnet\n", "train.model: .*unknown model"),
        ("train:\n  dataset: doors@3\n  lr: -0.1\n", "train.lr"),
        ("train:\n  dataset: doors@3\n  hyper: {width: 1000}\n", "train.hyper.*width"),
        ("model: camera\n", "needs a train: section"),
        ("train: [\n", "not valid YAML"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError, match=message) as err:
        load_params(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such parameters file"):
        load_params(tmp_path / "params.yaml")
