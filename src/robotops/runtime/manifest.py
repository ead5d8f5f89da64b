"""Reading a bundle's manifest and verifying the files it lists, before anything is loaded.

A bundle (see DESIGN.md) is a folder holding ``manifest.json`` and the model files it names,
each with its SHA-256. A bundle loads only when the folder holds exactly those files with exactly
those digests: a changed, missing or unlisted file means the folder is not what was exported, and
the robot must not guess which part to trust.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from robotops.errors import DataError, NotFoundError

BUNDLE_FORMAT = "robotops-bundle/1"
"""The manifest layout this code reads; :mod:`robotops.export` writes the same string."""
MANIFEST = "manifest.json"
MODEL = "model.onnx"
MODEL_INT8 = "model.int8.onnx"

_REQUIRED = ("format", "model", "classes", "inputs", "outputs", "preprocess", "files")


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the bundle in ``folder``, checked for the fields the runtime needs.

    Raises:
        NotFoundError: ``folder`` is not a folder, or has no manifest.
        DataError: The manifest is not JSON, of another format, or lacks a field.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotFoundError(f"{folder}: no such bundle folder")
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise NotFoundError(f"{path}: bundle has no {MANIFEST}") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a readable JSON manifest ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise DataError(f"{path}: format is {found!r}, this runtime reads {BUNDLE_FORMAT!r}")
    missing = [key for key in _REQUIRED if key not in manifest]
    if missing:
        raise DataError(f"{path}: manifest lacks {', '.join(missing)}")
    files = manifest["files"]
    if not isinstance(files, dict) or MODEL not in files:
        raise DataError(f"{path}: manifest lists no {MODEL} under files")
    return manifest


def verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Check that ``folder`` holds exactly the manifest's files, each with its SHA-256.

    Raises:
        DataError: A listed file is missing or changed, or a file is not listed.
    """
    folder = Path(folder)
    listed: dict[str, str] = manifest["files"]
    for name, expected in sorted(listed.items()):
        path = folder / name
        if Path(name).name != name:  # a manifest must not point outside its folder
            raise DataError(f"{folder / MANIFEST}: file name {name!r} is not a plain name")
        if not path.is_file():
            raise DataError(f"{path}: listed in the manifest but missing")
        if file_sha256(path) != expected:
            raise DataError(f"{path}: SHA-256 does not match the manifest (file changed)")
    extra = sorted(p.name for p in folder.iterdir() if p.name not in listed and p.name != MANIFEST)
    if extra:
        raise DataError(f"{folder / extra[0]}: file not listed in the manifest")
