"""Decode ROS sensor messages into NumPy arrays: raw images, compressed images, point clouds.

The decoders take messages as ``rosbags`` deserialises them (any object with the message's
fields will do, so tests can hand-make them) and touch no store and no file. A malformed
payload raises :class:`DecodeError` with a one-line reason; the caller adds file, topic and stamp.

Every array returned owns its memory, is C-contiguous and in native byte order, so it can be
kept after the recording is closed and written to any store as it is.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from robotops.ingest.errors import DecodeError

_XYZ = ("x", "y", "z")


@dataclass(frozen=True, eq=False)
class Cloud:
    """A decoded point cloud holding only points with finite coordinates.

    Attributes:
        xyz: (N, 3) float32 coordinates, every one finite.
        fields: every other named field, row-aligned with ``xyz``: an (N,) array of the field's
            own dtype, or (N, count) for a field holding several values per point. Packed colour
            (``rgb``, ``rgba``) stays the raw field it was, float32 or uint32.
        dropped_nonfinite: points dropped because x, y or z was NaN or infinite (the "no
            return" cells of organised clouds); kept plus dropped is the cloud's width x height.
    """

    xyz: np.ndarray
    fields: dict[str, np.ndarray]
    dropped_nonfinite: int = 0

    def __len__(self) -> int:
        return len(self.xyz)

    @classmethod
    def from_columns(cls, columns: Mapping[str, np.ndarray]) -> Cloud:
        """Build a cloud from per-point columns, dropping points whose x, y or z is not finite.

        Args:
            columns: field name to an (N,) or (N, count) array, all of the same length N, in
                native byte order; must hold ``x``, ``y`` and ``z``.

        Returns:
            The cloud; ``xyz`` is cast to float32 (a float64 coordinate too large for float32
            becomes infinite and its point is dropped).

        Raises:
            DecodeError: ``x``, ``y`` or ``z`` is missing or holds several values per point.
        """
        require_xyz(columns)
        for axis in _XYZ:
            if columns[axis].ndim != 1:
                count = columns[axis].shape[1]
                raise DecodeError(f"point cloud field '{axis}' has {count} values per point, not 1")
        with np.errstate(over="ignore", invalid="ignore"):
            xyz = np.stack([columns[axis] for axis in _XYZ], axis=1).astype(np.float32, copy=False)
        finite = np.isfinite(xyz).all(axis=1)  # (N,)
        dropped = int(finite.size - np.count_nonzero(finite))
        others = {name: col for name, col in columns.items() if name not in _XYZ}
        if dropped:
            xyz = xyz[finite]
            others = {name: col[finite] for name, col in others.items()}
        return cls(xyz=xyz, fields=others, dropped_nonfinite=dropped)


def require_xyz(names: Iterable[str]) -> None:
    """Raise :class:`DecodeError` unless the field names include ``x``, ``y`` and ``z``."""
    names = list(names)
    missing = [axis for axis in _XYZ if axis not in names]
    if not missing:
        return
    listed = ", ".join(names) or "none"
    if len(missing) == len(_XYZ):
        raise DecodeError(f"point cloud has no x, y, z fields (fields: {listed})")
    plural = "field" if len(missing) == 1 else "fields"
    raise DecodeError(f"point cloud has no {', '.join(missing)} {plural} (fields: {listed})")


# --- sensor_msgs/Image ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _PixelLayout:
    """How one ``sensor_msgs/Image`` encoding lays out a pixel."""

    channels: int
    dtype: str  # NumPy kind and size, byte order added from is_bigendian
    rgb: tuple[int, ...] | None  # channels to keep, in R, G, B order; None: single channel


_PIXEL_LAYOUTS = {
    "rgb8": _PixelLayout(3, "u1", (0, 1, 2)),
    "bgr8": _PixelLayout(3, "u1", (2, 1, 0)),
    "rgba8": _PixelLayout(4, "u1", (0, 1, 2)),
    "bgra8": _PixelLayout(4, "u1", (2, 1, 0)),
    "mono8": _PixelLayout(1, "u1", None),
    "mono16": _PixelLayout(1, "u2", None),
    "16UC1": _PixelLayout(1, "u2", None),
    "32FC1": _PixelLayout(1, "f4", None),
}


def decode_image(msg: Any) -> np.ndarray:
    """Decode a ``sensor_msgs/Image`` into an array.

    Colour encodings (rgb8, bgr8, rgba8, bgra8) give (H, W, 3) uint8 in RGB order, alpha
    dropped; mono8 gives (H, W) uint8; 16UC1 and mono16 give (H, W) uint16 (depth in
    millimetres for 16UC1 by ROS convention); 32FC1 gives (H, W) float32 (depth in metres).
    Row padding (``step`` larger than a row) is skipped and ``is_bigendian`` honoured.

    Args:
        msg: the message, with ``height``, ``width``, ``encoding``, ``is_bigendian``, ``step``
            and ``data``.

    Returns:
        The image, a new array in native byte order.

    Raises:
        DecodeError: the encoding is not one of the above, ``step`` is shorter than a row, or
            ``data`` is shorter than ``step * height``.
    """
    encoding = str(msg.encoding)
    layout = _PIXEL_LAYOUTS.get(encoding)
    if layout is None:
        supported = ", ".join(_PIXEL_LAYOUTS)
        raise DecodeError(f"unsupported image encoding {encoding!r} (supported: {supported})")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    dtype = np.dtype(layout.dtype).newbyteorder(">" if msg.is_bigendian else "<")
    row_bytes = width * layout.channels * dtype.itemsize
    if step < row_bytes:
        raise DecodeError(
            f"image step is {step} bytes, less than the {row_bytes} bytes of a row of "
            f"{width} {encoding} pixels"
        )
    data = _byte_array(msg.data)
    expected = step * height
    if data.size < expected:
        raise DecodeError(
            f"image data is {data.size} bytes, expected {expected} for {height}x{width} {encoding}"
        )
    rows = data[:expected].reshape(height, step)[:, :row_bytes]  # (H, row_bytes), padding cut
    pixels = np.ascontiguousarray(rows).view(dtype).reshape(height, width, layout.channels)
    image = pixels[:, :, 0] if layout.rgb is None else pixels[:, :, list(layout.rgb)]
    return np.array(image, dtype=dtype.newbyteorder("="), order="C")


# --- sensor_msgs/CompressedImage -----------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# compressed_depth_image_transport's ConfigHeader: int32 format, float32 depthParam[2].
_DEPTH_HEADER = struct.Struct("<i2f")
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
IMAGE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)
"""What Pillow raises for bytes that are not a sound image; one list for every reader."""


def decode_compressed(msg: Any) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG, PNG or compressedDepth PNG).

    ``format`` is read as image_transport writes it: ``"jpeg"``, ``"png"``,
    ``"rgb8; jpeg compressed bgr8"``, ``"16UC1; compressedDepth png"``. The image kind itself
    is recognised from the bytes, so a JPEG labelled PNG still decodes.

    Args:
        msg: the message, with ``format`` and ``data``.

    Returns:
        (H, W, 3) uint8 RGB for colour images; (H, W) uint8 for 8-bit grey images; (H, W)
        uint16 for 16-bit PNGs, including 16UC1 compressedDepth; (H, W) float32 metres for
        32FC1 compressedDepth, NaN where the depth was invalid.

    Raises:
        DecodeError: the format is not JPEG, PNG or compressedDepth PNG, or the bytes are not
            a complete image.
    """
    fmt = str(msg.format)
    lowered = fmt.lower()
    data = _byte_array(msg.data).tobytes()
    if "compresseddepth" in lowered:
        return _decode_compressed_depth(data, fmt)
    if lowered.strip() and not any(kind in lowered for kind in ("jpeg", "jpg", "png")):
        raise DecodeError(
            f"unsupported compressed image format {fmt!r} (supported: jpeg, png, "
            "compressedDepth png)"
        )
    image = _open_image(data, "compressed image")
    if image.mode in _SIXTEEN_BIT_MODES:
        return np.array(image).astype(np.uint16)
    if image.mode in ("L", "LA", "1"):
        return np.array(image.convert("L"))
    return np.array(image.convert("RGB"))


def _decode_compressed_depth(data: bytes, fmt: str) -> np.ndarray:
    """Decode compressed_depth_image_transport's payload: a 12-byte header, then a PNG."""
    encoding = fmt.split(";")[0].strip().upper()
    if "rvl" in fmt.lower():
        raise DecodeError(f"unsupported compressed depth format {fmt!r} (only PNG is supported)")
    if data.startswith(_PNG_SIGNATURE):  # some writers leave the header out
        header, png = b"", data
    elif data[_DEPTH_HEADER.size : _DEPTH_HEADER.size + len(_PNG_SIGNATURE)] == _PNG_SIGNATURE:
        header, png = data[: _DEPTH_HEADER.size], data[_DEPTH_HEADER.size :]
    else:
        raise DecodeError(
            f"compressedDepth payload ({len(data)} bytes) has no PNG image after its "
            f"{_DEPTH_HEADER.size}-byte header"
        )
    image = _open_image(png, "compressedDepth PNG")
    if image.mode not in _SIXTEEN_BIT_MODES:
        raise DecodeError(f"compressedDepth PNG has mode {image.mode!r}, expected 16-bit grey")
    raw = np.array(image).astype(np.uint16)  # (H, W)
    if encoding != "32FC1":
        return raw
    if not header:
        raise DecodeError("32FC1 compressedDepth payload has no header with its quantisation")
    # The codec stores inverse depth: raw = quant_a / depth + quant_b, and 0 where invalid.
    _, quant_a, quant_b = _DEPTH_HEADER.unpack(header)
    depth = np.full(raw.shape, np.nan, dtype=np.float32)
    valid = raw != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        depth[valid] = quant_a / (raw[valid].astype(np.float32) - np.float32(quant_b))
    return depth


def _open_image(data: bytes, what: str) -> Image.Image:
    """Open and fully decode JPEG or PNG bytes with Pillow, turning its errors into ours."""
    try:
        image = Image.open(io.BytesIO(data), formats=("JPEG", "PNG"))
        image.load()
    except UnidentifiedImageError as err:
        raise DecodeError(f"{what} is not a JPEG or PNG image ({len(data)} bytes)") from err
    except IMAGE_ERRORS as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise DecodeError(f"{what} is corrupt ({len(data)} bytes): {reason}") from err
    return image


# --- sensor_msgs/PointCloud2 ---------------------------------------------------------------------

# sensor_msgs/PointField datatype constants to NumPy kinds.
_POINT_FIELD_KINDS = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}


def decode_pointcloud2(msg: Any) -> Cloud:
    """Decode a ``sensor_msgs/PointCloud2`` with any field layout, without a per-point loop.

    The fields become one NumPy structured dtype (names, formats, offsets, ``itemsize`` of
    ``point_step``) laid over the data with a stride of ``row_step`` between rows, so padding
    between fields, after the last field and at the end of each row is skipped, and
    big-endian data is read as such. Fields named ``""`` or ``"_"`` are padding and ignored;
    a count of 0 is read as 1.

    Args:
        msg: the message, with ``height``, ``width``, ``fields``, ``is_bigendian``,
            ``point_step``, ``row_step`` and ``data``.

    Returns:
        The cloud: float32 ``xyz`` (float64 or integer coordinates are cast), the other fields
        in their own dtypes, points with a non-finite coordinate dropped and counted.

    Raises:
        DecodeError: x, y or z is missing, a field is duplicated, of an unknown datatype or
            reaches past ``point_step``, rows overlap, or ``data`` is shorter than the points.
    """
    height, width = int(msg.height), int(msg.width)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    order = ">" if msg.is_bigendian else "<"
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    for field in msg.fields:
        name = str(field.name)
        if name in ("", "_"):
            continue
        if name in names:
            raise DecodeError(f"point cloud field {name!r} appears twice")
        kind = _POINT_FIELD_KINDS.get(int(field.datatype))
        if kind is None:
            raise DecodeError(f"point cloud field {name!r} has unknown datatype {field.datatype}")
        dtype = np.dtype(order + kind)
        count, offset = max(int(field.count), 1), int(field.offset)
        end = offset + dtype.itemsize * count
        if offset < 0 or end > point_step:
            raise DecodeError(
                f"point cloud field {name!r} spans bytes {offset}..{end}, past point_step "
                f"{point_step}"
            )
        names.append(name)
        formats.append(dtype if count == 1 else (dtype, (count,)))
        offsets.append(offset)
    require_xyz(names)

    n_points = height * width
    if height > 1 and row_step < width * point_step:
        raise DecodeError(
            f"point cloud row_step {row_step} is less than width {width} x point_step {point_step}"
        )
    # The points need every row but the last in full; the last row's padding may be absent.
    needed = (height - 1) * row_step + width * point_step if n_points else 0
    data = _byte_array(msg.data)
    if data.size < needed:
        raise DecodeError(
            f"point cloud data is {data.size} bytes, expected {needed} for {height}x{width} "
            f"points of {point_step} bytes"
        )
    record = np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step}
    )
    if n_points:
        points = np.ndarray(
            (height, width), dtype=record, buffer=data, strides=(row_step, point_step)
        )
    else:
        points = np.zeros((height, width), dtype=record)
    columns = {}
    for name in names:
        column = points[name]  # (H, W) or (H, W, count), a strided view into data
        column = column.reshape(n_points, *column.shape[2:])
        columns[name] = column.astype(column.dtype.newbyteorder("="))
    return Cloud.from_columns(columns)


def _byte_array(data: Any) -> np.ndarray:
    """A message's payload as a flat uint8 array, without a copy when it is one already."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return np.frombuffer(bytes(data), dtype=np.uint8)
