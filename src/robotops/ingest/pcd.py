"""Read PCL ``.pcd`` point cloud files: ascii, binary and binary_compressed (LZF) data.

A PCD file is a short text header (``FIELDS``, ``SIZE``, ``TYPE``, ``COUNT``, ``WIDTH``,
``HEIGHT``, ``VIEWPOINT``, ``POINTS``, ``DATA``) followed by the points: whitespace-separated
text, little-endian records of all fields one point after another, or LZF-compressed columns
(every point's first field, then every point's second field, ...). Fields named ``_`` are
padding and are skipped. The viewpoint is checked but not applied, as PCL does.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robotops.ingest.decode import Cloud, require_xyz
from robotops.ingest.errors import DecodeError

_HEADER_KEYS = (
    "VERSION",
    "FIELDS",
    "SIZE",
    "TYPE",
    "COUNT",
    "WIDTH",
    "HEIGHT",
    "VIEWPOINT",
    "POINTS",
    "DATA",
)
_MAX_HEADER_LINES = 64
_DATA_KINDS = ("ascii", "binary", "binary_compressed")
_KINDS = {
    ("I", 1): "i1",
    ("I", 2): "i2",
    ("I", 4): "i4",
    ("I", 8): "i8",
    ("U", 1): "u1",
    ("U", 2): "u2",
    ("U", 4): "u4",
    ("U", 8): "u8",
    ("F", 4): "f4",
    ("F", 8): "f8",
}
_SIZES = struct.Struct("<II")  # binary_compressed: compressed size, uncompressed size


@dataclass(frozen=True)
class _Field:
    """One declared field of a PCD file."""

    name: str
    dtype: np.dtype  # little-endian scalar
    count: int

    @property
    def padding(self) -> bool:
        return self.name == "_"

    @property
    def nbytes(self) -> int:
        return self.dtype.itemsize * self.count


@dataclass(frozen=True)
class _Header:
    """A parsed and checked PCD header."""

    fields: tuple[_Field, ...]
    width: int
    height: int
    data: str

    @property
    def points(self) -> int:
        return self.width * self.height

    @property
    def named(self) -> tuple[_Field, ...]:
        return tuple(field for field in self.fields if not field.padding)


def read_pcd(path: str | os.PathLike[str]) -> Cloud:
    """Read a ``.pcd`` file into a cloud of its finite points.

    Args:
        path: the file.

    Returns:
        The cloud: float32 ``xyz``, every other field in its own dtype (packed ``rgb``/``rgba``
        kept raw: float32 when declared ``F``, uint32 when ``U``), NaN points dropped and
        counted in ``dropped_nonfinite``.

    Raises:
        DecodeError: the file cannot be read, its header is inconsistent, its data is short or
            corrupt, or it has no x, y, z fields.
    """
    try:
        blob = Path(path).read_bytes()
    except OSError as err:
        raise DecodeError(f"cannot read PCD file: {err.strerror or err}") from err
    return decode_pcd(blob)


def decode_pcd(blob: bytes) -> Cloud:
    """Decode the bytes of a ``.pcd`` file; see :func:`read_pcd`."""
    header, body = _parse_header(blob)
    require_xyz(field.name for field in header.named)
    if header.data == "ascii":
        columns = _ascii_columns(header, body)
    elif header.data == "binary":
        columns = _binary_columns(header, body)
    else:
        columns = _compressed_columns(header, body)
    return Cloud.from_columns(columns)


def _parse_header(blob: bytes) -> tuple[_Header, bytes]:
    """Split a PCD file into its checked header and the bytes after the ``DATA`` line."""
    entries: dict[str, list[str]] = {}
    pos = 0
    for _ in range(_MAX_HEADER_LINES):
        end = blob.find(b"\n", pos)
        end = len(blob) if end < 0 else end
        line = blob[pos:end].decode("latin-1").strip()
        pos = end + 1
        if line and not line.startswith("#"):
            key, *values = line.split()
            if key.upper() not in _HEADER_KEYS:
                raise DecodeError(f"not a PCD header line: {line[:40]!r}")
            entries[key.upper()] = values
            if key.upper() == "DATA":
                break
        if pos > len(blob):
            raise DecodeError("PCD header has no DATA line")
    else:
        raise DecodeError(f"PCD header has no DATA line in its first {_MAX_HEADER_LINES} lines")
    return _check_header(entries), blob[pos:]


def _check_header(entries: dict[str, list[str]]) -> _Header:
    """Check the header's entries against each other and build the field list."""
    for key in ("FIELDS", "SIZE", "TYPE"):
        if key not in entries:
            raise DecodeError(f"PCD header has no {key} line")
    names = entries["FIELDS"]
    sizes = _integers(entries, "SIZE")
    counts = _integers(entries, "COUNT") if "COUNT" in entries else [1] * len(names)
    types = [kind.upper() for kind in entries["TYPE"]]
    for key, values in (("SIZE", sizes), ("TYPE", types), ("COUNT", counts)):
        if len(values) != len(names):
            raise DecodeError(f"PCD header has {len(names)} FIELDS but {len(values)} {key} values")
    fields = []
    for name, size, kind, count in zip(names, sizes, types, counts, strict=True):
        numpy_kind = _KINDS.get((kind, size))
        if numpy_kind is None:
            raise DecodeError(f"PCD field {name!r} has unsupported TYPE {kind} with SIZE {size}")
        if count < 1:
            raise DecodeError(f"PCD field {name!r} has COUNT {count}")
        fields.append(_Field(name, np.dtype("<" + numpy_kind), count))
    named = [field.name for field in fields if not field.padding]
    if len(set(named)) != len(named):
        raise DecodeError(f"PCD header names a field twice (FIELDS {' '.join(names)})")

    if "VIEWPOINT" in entries:
        viewpoint = entries["VIEWPOINT"]
        try:
            [float(value) for value in viewpoint]
        except ValueError:
            viewpoint = []
        if len(viewpoint) != 7:
            raise DecodeError("PCD header VIEWPOINT is not 7 numbers (tx ty tz qw qx qy qz)")

    # Old files may leave out WIDTH and HEIGHT (then the cloud is POINTS wide) or POINTS.
    width = _integer(entries, "WIDTH") if "WIDTH" in entries else None
    height = _integer(entries, "HEIGHT") if "HEIGHT" in entries else 1
    points = _integer(entries, "POINTS") if "POINTS" in entries else None
    if width is None:
        if points is None:
            raise DecodeError("PCD header has neither WIDTH nor POINTS")
        width, height = points, 1
    if points is not None and points != width * height:
        raise DecodeError(
            f"PCD header POINTS {points} is not WIDTH x HEIGHT = {width}x{height} = "
            f"{width * height}"
        )

    data = entries["DATA"][0].lower() if entries["DATA"] else ""
    if data not in _DATA_KINDS:
        raise DecodeError(f"PCD DATA {data!r} is not one of {', '.join(_DATA_KINDS)}")
    return _Header(tuple(fields), width, height, data)


def _integers(entries: dict[str, list[str]], key: str) -> list[int]:
    """A header line's values as non-negative integers."""
    try:
        values = [int(value) for value in entries[key]]
    except ValueError:
        raise DecodeError(f"PCD header {key} is not integers: {' '.join(entries[key])}") from None
    if any(value < 0 for value in values):
        raise DecodeError(f"PCD header {key} is negative: {' '.join(entries[key])}")
    return values


def _integer(entries: dict[str, list[str]], key: str) -> int:
    """A header line's single non-negative integer."""
    values = _integers(entries, key)
    if len(values) != 1:
        raise DecodeError(f"PCD header {key} is not one integer: {' '.join(entries[key])}")
    return values[0]


def _binary_columns(header: _Header, body: bytes) -> dict[str, np.ndarray]:
    """Columns of DATA binary: records of all fields, padding included, one point after another."""
    point_step = sum(field.nbytes for field in header.fields)
    needed = header.points * point_step
    if len(body) < needed:
        raise DecodeError(
            f"PCD binary data is {len(body)} bytes, expected {needed} for {header.points} "
            f"points of {point_step} bytes"
        )
    names, formats, offsets, offset = [], [], [], 0
    for field in header.fields:
        if not field.padding:
            names.append(field.name)
            formats.append(field.dtype if field.count == 1 else (field.dtype, (field.count,)))
            offsets.append(offset)
        offset += field.nbytes
    record = np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step}
    )
    points = np.frombuffer(body, dtype=record, count=header.points)
    return {name: _native(points[name]) for name in names}


def _compressed_columns(header: _Header, body: bytes) -> dict[str, np.ndarray]:
    """Columns of DATA binary_compressed: sizes, then LZF of each field's values in turn."""
    if len(body) < _SIZES.size:
        raise DecodeError(f"PCD compressed data is {len(body)} bytes, too short for its sizes")
    compressed_size, uncompressed_size = _SIZES.unpack_from(body)
    payload = body[_SIZES.size : _SIZES.size + compressed_size]
    if len(payload) < compressed_size:
        raise DecodeError(
            f"PCD compressed data is {len(payload)} bytes, its header says {compressed_size}"
        )
    # PCL leaves padding fields out of compressed data; accept files that kept them too.
    packed = header.named
    if uncompressed_size != header.points * sum(field.nbytes for field in packed):
        packed = header.fields
    expected = header.points * sum(field.nbytes for field in packed)
    if uncompressed_size != expected:
        raise DecodeError(
            f"PCD uncompressed size is {uncompressed_size} bytes, expected {expected} for "
            f"{header.points} points"
        )
    raw = lzf_decompress(payload, uncompressed_size)
    columns, start = {}, 0
    for field in packed:
        stop = start + header.points * field.nbytes
        if not field.padding:
            column = np.frombuffer(raw[start:stop], dtype=field.dtype)
            shape = (header.points,) if field.count == 1 else (header.points, field.count)
            columns[field.name] = _native(column.reshape(shape))
        start = stop
    return columns


def _ascii_columns(header: _Header, body: bytes) -> dict[str, np.ndarray]:
    """Columns of DATA ascii: one line of whitespace-separated values per point."""
    tokens = body.decode("latin-1").split()
    per_point = sum(field.count for field in header.fields)
    expected = header.points * per_point
    if len(tokens) != expected:
        raise DecodeError(
            f"PCD ascii data has {len(tokens)} values, expected {expected} for "
            f"{header.points} points of {per_point} values"
        )
    table = np.array(tokens, dtype=str).reshape(header.points, per_point)
    columns, start = {}, 0
    for field in header.fields:
        text = table[:, start : start + field.count]  # (N, count) strings
        start += field.count
        if field.padding:
            continue
        values = _parse_ascii(field, text)
        columns[field.name] = values[:, 0] if field.count == 1 else values
    return columns


def _parse_ascii(field: _Field, text: np.ndarray) -> np.ndarray:
    """Parse one field's strings; float ``rgb`` written as an integer keeps its bit pattern."""
    dtype = field.dtype.newbyteorder("=")
    try:
        # PCL writes a float rgb field as the unsigned integer with the same bits, since
        # several opaque colours are NaN as floats.
        if field.name == "rgb" and dtype == np.float32 and np.char.isdigit(text).all():
            return text.astype(np.uint32).view(np.float32)
        if dtype.kind == "f":
            return text.astype(dtype)
        wide = text.astype(np.int64 if dtype.kind == "i" else np.uint64)
    except (ValueError, OverflowError) as err:
        raise DecodeError(
            f"PCD ascii field {field.name!r} has a value that is not a number"
        ) from err
    info = np.iinfo(dtype)
    if wide.size and (wide.min() < info.min or wide.max() > info.max):
        raise DecodeError(f"PCD ascii field {field.name!r} has a value outside {dtype.name}")
    return wide.astype(dtype)


def _native(column: np.ndarray) -> np.ndarray:
    """A copy of ``column`` in native byte order, owning its memory."""
    return column.astype(column.dtype.newbyteorder("="))


def lzf_decompress(data: bytes, size: int) -> bytes:
    """Decompress liblzf's format (as PCL writes it) into exactly ``size`` bytes.

    Each control byte starts either a literal run (values below 32: copy the next ``ctrl + 1``
    bytes) or a back reference (top three bits the length minus 2, 7 meaning "plus the next
    byte"; low five bits and the next byte the distance minus 1) that copies already decoded
    bytes, overlapping its own output when the distance is shorter than the length.

    Args:
        data: the compressed bytes.
        size: the decompressed size the file declares.

    Returns:
        The decompressed bytes.

    Raises:
        DecodeError: the data is truncated, refers before its start, or does not decompress
            to exactly ``size`` bytes.
    """
    out = bytearray()
    pos, end = 0, len(data)
    while pos < end:
        ctrl = data[pos]
        pos += 1
        if ctrl < 32:
            stop = pos + ctrl + 1
            if stop > end:
                raise DecodeError("LZF data ends inside a literal run")
            out += data[pos:stop]
            pos = stop
        else:
            length = ctrl >> 5
            if length == 7:
                if pos >= end:
                    raise DecodeError("LZF data ends inside a back reference")
                length += data[pos]
                pos += 1
            if pos >= end:
                raise DecodeError("LZF data ends inside a back reference")
            distance = ((ctrl & 0x1F) << 8) + data[pos] + 1
            pos += 1
            length += 2
            start = len(out) - distance
            if start < 0:
                raise DecodeError("LZF back reference points before the start of the data")
            if distance >= length:
                out += out[start : start + length]
            else:  # the copy overlaps its output: the last `distance` bytes repeat
                period = out[start:]
                out += (period * (length // distance + 1))[:length]
        if len(out) > size:
            raise DecodeError(f"LZF data decompresses to more than the declared {size} bytes")
    if len(out) != size:
        raise DecodeError(f"LZF data decompresses to {len(out)} bytes, expected {size}")
    return bytes(out)
