"""Read a folder of images and PCD files as one recording, into the same frame rows as a bag.

Layout, one of two:

1. **Subfolders** ``rgb/``, ``depth/`` and ``lidar/``, any of them (files directly inside; other
   subfolders are ignored). ``rgb/`` holds 8-bit colour or grey ``.png``, ``.jpg``, ``.jpeg``;
   ``depth/`` holds 16-bit grey ``.png`` in millimetres, or ``.tif``/``.tiff`` in 16-bit
   millimetres or 32-bit float metres; ``lidar/`` holds ``.pcd`` (ascii, binary or
   binary_compressed). Image or PCD files beside the subfolders are refused, not ignored.
2. **Flat**: the files lie in the folder itself. ``.pcd`` files are LiDAR, ``.tif``/``.tiff`` are
   depth, ``.png`` files are depth when 16-bit single-channel and colour otherwise, ``.jpg`` and
   ``.jpeg`` are colour.

Files with other extensions and hidden files (``.name``) are ignored. Stamps come from the file
names, the same rule for both layouts:

- If every stem is a timestamp -- an integer of nanoseconds (``1700000000123456789``) or a decimal
  number of seconds (``1700000000.123456``) -- frames are synchronised as in a bag: the anchor is
  the first of rgb, depth, lidar that has files, and every other modality is paired with it by
  nearest stamp within ``sync.max_gap_ms``; an unpaired modality stays null and is counted by the
  coverage. A zero-padded integer (``000123``) is a frame number, not a timestamp, so such files
  are paired by name.
- Otherwise files are paired by identical stem (``0007.png`` with ``0007.pcd``) onto the anchor's
  files, and a frame's stamp is its anchor file's position in natural sort order (``frame2``
  before ``frame10``), as nanoseconds 0, 1, 2, ...

Files paired with no frame are left out, as a bag's unpaired messages are, but are still read:
ingest is all-or-nothing, so any unreadable or corrupt file fails the whole folder with a
:class:`DataError` naming it. Colour files keep their JPEG/PNG bytes as they are. Clouds stay in
their sensor's frame (a folder has no TF), which the summary reports; there are no intrinsics.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from robotops.config import Config
from robotops.errors import DataError, one_line
from robotops.ingest.decode import IMAGE_ERRORS, decode_compressed
from robotops.ingest.errors import DecodeError
from robotops.ingest.frames import (
    RecordingSummary,
    base_row,
    depth_columns,
    frames_table,
    lidar_columns,
    recording_meta,
    rgb_columns,
)
from robotops.ingest.pcd import read_pcd
from robotops.ingest.sync import pair_nearest

_ROLES = ("rgb", "depth", "lidar")  # in anchor order
_SUFFIXES = {
    "rgb": (".png", ".jpg", ".jpeg"),
    "depth": (".png", ".tif", ".tiff"),
    "lidar": (".pcd",),
}
_TIFF = (".tif", ".tiff")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NANOSECONDS = re.compile(r"0|[1-9][0-9]*")
_SECONDS = re.compile(r"([0-9]+)\.([0-9]+)")
_DIGITS = re.compile(r"([0-9]+)")
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class _File:
    """One sensor file of the folder."""

    role: str  # rgb, depth or lidar
    path: Path
    stamp_ns: int | None  # from the stem; None when the stem is not a timestamp


@dataclass(frozen=True)
class _Encoded:
    """A file's bytes in the shape of a ``CompressedImage``, for :func:`decode_compressed`."""

    format: str
    data: bytes


def read_folder(
    path: Path, config: Config, on_frame: Callable[[], None] | None = None
) -> tuple[pa.Table, RecordingSummary]:
    """Read a folder of images and PCD files into frame rows (not committed).

    Args:
        path: The folder; see the module docstring for its layout.
        config: Synchronisation settings (``sync.max_gap_ms``).
        on_frame: Called once per frame read.

    Returns:
        The frame table and what ingest made of the folder.

    Raises:
        DataError: The folder has no image or PCD file, mixes the two layouts, holds two files
            for one stamp of a modality, or holds a file that cannot be read.
    """
    meta = recording_meta(path)
    summary = RecordingSummary(path=path, recording_id=meta["recording_id"])
    found = _find_files(path)
    if not found:
        raise DataError(
            f"{path}: no images or PCD files (.png, .jpg, .jpeg, .tif, .tiff, .pcd, in the "
            "folder itself or in rgb/, depth/, lidar/)"
        )
    by_time = all(file.stamp_ns is not None for file in found)
    if not by_time:  # some stems are not timestamps: none counts as one
        found = [replace(file, stamp_ns=None) for file in found]
    streams = {
        role: _ordered([f for f in found if f.role == role], by_time)
        for role in _ROLES
        if any(f.role == role for f in found)
    }
    anchor_role = next(iter(streams))
    anchor = streams[anchor_role]
    if by_time:
        anchor_ns = np.array([file.stamp_ns for file in anchor], dtype=np.int64)
        pairs = _pair_by_time(streams, anchor_role, anchor_ns, config, summary)
    else:
        anchor_ns = np.arange(len(anchor), dtype=np.int64)
        pairs = _pair_by_stem(streams, anchor_role)

    rows = []
    used: set[Path] = set()
    for i, frame_ns in enumerate(anchor_ns.tolist()):
        row = base_row(meta, frame_ns, path)
        for role, index in pairs.items():
            j = int(index[i])
            if j < 0:
                continue
            file = streams[role][j]
            columns, dropped = _columns(file, frame_ns if file.stamp_ns is None else file.stamp_ns)
            row.update(columns)
            summary.dropped_nonfinite += dropped
            used.add(file.path)
        rows.append(row)
        if on_frame is not None:
            on_frame()
    for file in found:
        if file.path not in used:
            _columns(file, 0)  # read only to prove it sound: one bad file fails the folder
    table = frames_table(rows, summary)
    summary.lidar_frame_kept = summary.coverage["lidar"] > 0  # no TF: clouds stay as recorded
    return table, summary


def folder_streams(path: Path) -> dict[str, int]:
    """Sensor files per modality of a folder recording, in anchor order (for ``--list-topics``).

    Raises:
        DataError: The folder cannot be listed or mixes the two layouts.
    """
    found = _find_files(path)
    return {role: n for role in _ROLES if (n := sum(f.role == role for f in found))}


def _find_files(path: Path) -> list[_File]:
    """The folder's sensor files with their roles, from either layout."""
    subfolders = [role for role in _ROLES if (path / role).is_dir()]
    top = _listing(path)
    if not subfolders:
        return [_File(role, file, _stamp_ns(file.stem)) for file, role in _flat_roles(top)]
    loose = [file for file in top if file.suffix.lower() in {*_SUFFIXES["rgb"], *_TIFF, ".pcd"}]
    if loose:
        names = ", ".join(f"{role}/" for role in subfolders)
        raise DataError(
            f"{path}: has both {names} and image or PCD files beside them ({loose[0].name}); "
            "put every file in rgb/, depth/ or lidar/"
        )
    return [
        _File(role, file, _stamp_ns(file.stem))
        for role in subfolders
        for file in _listing(path / role)
        if file.suffix.lower() in _SUFFIXES[role]
    ]


def _listing(folder: Path) -> list[Path]:
    """The files directly in ``folder``, hidden files left out."""
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError as err:
        raise DataError(f"{folder}: cannot list folder: {err.strerror or err}") from err


def _flat_roles(files: Iterable[Path]) -> Iterable[tuple[Path, str]]:
    """The sensor files of a flat folder with their roles, from extension and PNG bit depth."""
    for file in files:
        suffix = file.suffix.lower()
        if suffix == ".pcd":
            yield file, "lidar"
        elif suffix in _TIFF:
            yield file, "depth"
        elif suffix in (".jpg", ".jpeg"):
            yield file, "rgb"
        elif suffix == ".png":
            try:
                with Image.open(file) as image:  # reads the header only
                    mode = image.mode
            except IMAGE_ERRORS as err:
                raise DataError(f"{file}: not a readable PNG image: {one_line(err)}") from err
            yield file, "depth" if mode.startswith("I") else "rgb"  # I, I;16: 16-bit grey


def _stamp_ns(stem: str) -> int | None:
    """The stamp a file stem spells (integer nanoseconds or decimal seconds), or None."""
    if _NANOSECONDS.fullmatch(stem):
        stamp_ns = int(stem)
    elif match := _SECONDS.fullmatch(stem):
        stamp_ns = int(match[1]) * 1_000_000_000 + int(match[2][:9].ljust(9, "0"))
    else:
        return None
    return stamp_ns if stamp_ns <= _INT64_MAX else None


def _natural(stem: str) -> tuple[Any, ...]:
    """Sort key putting ``frame2`` before ``frame10``; ties broken by the stem itself."""
    parts = _DIGITS.split(stem)  # text, digits, text, ...: same kinds at the same positions
    return (*(int(p) if i % 2 else p for i, p in enumerate(parts)), stem)


def _ordered(files: list[_File], by_time: bool) -> list[_File]:
    """One modality's files in frame order; two files for one stamp or one stem are refused."""
    if by_time:
        ordered = sorted(files, key=lambda f: (f.stamp_ns, f.path.name))
        what, same = "stamp", lambda a, b: a.stamp_ns == b.stamp_ns
    else:
        ordered = sorted(files, key=lambda f: _natural(f.path.stem))
        what, same = "name", lambda a, b: a.path.stem == b.path.stem
    for before, after in pairwise(ordered):
        if same(before, after):
            raise DataError(
                f"{after.path}: same {what} as {before.path.name}; keep one {after.role} file "
                f"per {what}"
            )
    return ordered


def _pair_by_time(
    streams: dict[str, list[_File]],
    anchor_role: str,
    anchor_ns: np.ndarray,
    config: Config,
    summary: RecordingSummary,
) -> dict[str, np.ndarray]:
    """For each modality, the index of its file nearest each anchor stamp, or -1."""
    gap_ns = int(config.sync.max_gap_ms * 1e6)
    pairs = {}
    for role, files in streams.items():
        if role == anchor_role:
            pairs[role] = np.arange(anchor_ns.size)
            continue
        stamps = np.array([file.stamp_ns for file in files], dtype=np.int64)
        pairing = pair_nearest(anchor_ns, stamps, gap_ns)
        if not pairing.overlapping:
            summary.unpaired_clocks.append(
                f"{role} files: their stamps never overlap the {anchor_role} files' "
                "(another clock?)"
            )
        pairs[role] = pairing.index
    return pairs


def _pair_by_stem(streams: dict[str, list[_File]], anchor_role: str) -> dict[str, np.ndarray]:
    """For each modality, the index of its file named like each anchor file, or -1."""
    stems = [file.path.stem for file in streams[anchor_role]]
    pairs = {}
    for role, files in streams.items():
        position = {file.path.stem: j for j, file in enumerate(files)}
        pairs[role] = np.array([position.get(stem, -1) for stem in stems], dtype=np.int64)
    return pairs


def _columns(file: _File, stamp_ns: int) -> tuple[dict[str, Any], int]:
    """A file's frame columns, and how many of its LiDAR points were dropped as non-finite.

    Raises:
        DataError: The file cannot be read or decoded, naming the file and the problem.
    """
    try:
        if file.role == "lidar":
            cloud = read_pcd(file.path)
            return lidar_columns(cloud.xyz, stamp_ns), cloud.dropped_nonfinite
        if file.role == "depth" and file.path.suffix.lower() in _TIFF:
            return depth_columns(_read_tiff(file.path), stamp_ns), 0
        data = file.path.read_bytes()
        image = decode_compressed(_Encoded(file.path.suffix[1:], data))
        if file.role == "depth":
            return depth_columns(image, stamp_ns), 0
        if image.dtype != np.uint8:
            raise DecodeError(f"is a {image.dtype} image, not 8-bit colour or grey")
        kind = "png" if data.startswith(_PNG_SIGNATURE) else "jpeg"
        return rgb_columns(image, stamp_ns, (kind, data)), 0
    except OSError as err:
        raise DataError(f"{file.path}: cannot read file: {err.strerror or err}") from err
    except DataError as err:  # DecodeError from the decoders, which do not know the file
        raise DataError(f"{file.path}: {one_line(err)}") from err


def _read_tiff(path: Path) -> np.ndarray:
    """A TIFF depth image as an array: uint16 for 16-bit grey, float32 for 32-bit float."""
    try:
        with Image.open(path, formats=("TIFF",)) as image:
            image.load()
            return np.array(image)
    except IMAGE_ERRORS as err:
        raise DecodeError(f"not a readable TIFF image: {one_line(err)}") from err
