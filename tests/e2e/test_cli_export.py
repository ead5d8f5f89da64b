"""`robotops export` and `robotops predict` from the real entry point, on a real dataset version."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from robotops.dataset.store import Store
from tests.e2e.test_cli_sim import robotops
from tests.export.synthetic import raw_frames, write_checkpoint


def test_export_a_checkpoint_then_predict_image_files(
    split_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, ref = split_store
    classes = store.snapshot(ref).classes
    checkpoint = write_checkpoint(tmp_path / "best.safetensors", classes=classes)
    out = tmp_path / "bundle"
    result = robotops(
        "export", str(checkpoint), "--out", str(out), "--dataset", ref, "--split", "val",
        "--store", str(store.root), "--workspace", str(tmp_path), "--int8-tolerance", "1",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"to {out}" in result.stdout
    assert f"held-out frames ({ref}:val)" in result.stdout
    assert "int8 (" in result.stdout and "written" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["classes"] == list(classes)
    assert manifest["dataset"]["ref"] == "doors@3"  # the checkpoint's own training record
    assert manifest["held_out"]["ref"] == f"{ref}:val"
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "model.int8.onnx", "model.onnx"
    ]  # fmt: skip

    rgb, depth, _ = raw_frames(1)[0]
    Image.fromarray(rgb).save(tmp_path / "colour.png")
    Image.fromarray(depth).save(tmp_path / "depth.png")  # uint16 -> 16-bit grey PNG
    frames = [str(tmp_path / "colour.png"), f"{tmp_path / 'colour.png'},{tmp_path / 'depth.png'}"]
    table = robotops("predict", str(out), *frames, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "colour.png" in table.stdout and "confidence" in table.stdout
    as_json = robotops("predict", str(out), *frames, "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    answer = json.loads(as_json.stdout)
    assert [p["frame"] for p in answer["predictions"]] == frames
    for p in answer["predictions"]:
        assert p["label"] in classes
        assert abs(sum(p["probabilities"].values()) - 1) < 1e-5
        assert p["label"] in table.stdout

    again = robotops("export", str(checkpoint), "--out", str(out), cwd=tmp_path)
    assert again.returncode == 5
    assert "folder exists and is not empty" in again.stderr
    assert again.stderr.count("\n") == 1


def test_bad_input_gives_one_line_and_no_bundle(
    split_store: tuple[Store, str], tmp_path: Path
) -> None:
    store, ref = split_store
    checkpoint = write_checkpoint(
        tmp_path / "best.safetensors", classes=store.snapshot(ref).classes
    )
    cases = [
        (["export", str(tmp_path / "missing.safetensors")], 4, "no such checkpoint file"),
        (["export", str(checkpoint), "--dataset", "doors@99"], 4, "has no version 99"),
        # The tiny dataset has no test split: held-out frames come from nowhere.
        (["export", str(checkpoint), "--dataset", ref], 3, "no labelled frames in split 'test'"),
    ]
    for args, code, message in cases:
        result = robotops(*args, "--out", str(tmp_path / "bundle"), "--store", str(store.root),
                          "--workspace", str(tmp_path), cwd=tmp_path)  # fmt: skip
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert not (tmp_path / "bundle").exists()
        assert not list(tmp_path.glob(".bundle*"))
    predict = robotops("predict", str(tmp_path / "nowhere"), str(tmp_path / "x.png"), cwd=tmp_path)
    assert predict.returncode == 4
    assert "no such bundle folder" in predict.stderr and predict.stderr.count("\n") == 1
