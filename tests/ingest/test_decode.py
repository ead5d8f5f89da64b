from __future__ import annotations

import io
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from robotops.errors import DataError
from robotops.ingest.decode import (
    Cloud,
    decode_compressed,
    decode_image,
    decode_pointcloud2,
)
from robotops.ingest.errors import DecodeError

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

# --- sensor_msgs/Image ---------------------------------------------------------------------------


def image_msg(
    array: np.ndarray, encoding: str, *, pad: int = 0, bigendian: bool = False
) -> SimpleNamespace:
    """An Image message holding ``array`` (H, W[, C]) with ``pad`` junk bytes after each row."""
    height, width = array.shape[:2]
    order = ">" if bigendian else "<"
    rows = np.ascontiguousarray(array.astype(array.dtype.newbyteorder(order)))
    row_bytes = rows.reshape(height, -1).view(np.uint8).reshape(height, -1)
    junk = np.full((height, pad), 0xEE, dtype=np.uint8)
    data = np.concatenate([row_bytes, junk], axis=1).reshape(-1)
    return SimpleNamespace(
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=int(bigendian),
        step=row_bytes.shape[1] + pad,
        data=data,
    )


def colour(height: int = 3, width: int = 5) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def test_rgb8_with_row_padding_is_exact() -> None:
    rgb = colour()
    msg = image_msg(rgb, "rgb8", pad=7)
    assert msg.step == 5 * 3 + 7
    out = decode_image(msg)
    assert out.dtype == np.uint8 and out.shape == (3, 5, 3)
    np.testing.assert_array_equal(out, rgb)


def test_bgr8_is_swapped_to_rgb() -> None:
    rgb = colour()
    out = decode_image(image_msg(rgb[:, :, ::-1], "bgr8", pad=3))
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize(("encoding", "order"), [("rgba8", [0, 1, 2, 3]), ("bgra8", [2, 1, 0, 3])])
def test_alpha_is_dropped(encoding: str, order: list[int]) -> None:
    rgb = colour()
    rgba = np.concatenate([rgb, np.full((3, 5, 1), 77, np.uint8)], axis=2)
    out = decode_image(image_msg(rgba[:, :, order], encoding, pad=4))
    assert out.shape == (3, 5, 3)
    np.testing.assert_array_equal(out, rgb)


def test_mono8_is_two_dimensional() -> None:
    grey = colour()[:, :, 0]
    out = decode_image(image_msg(grey, "mono8", pad=1))
    assert out.shape == (3, 5) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, grey)


@pytest.mark.parametrize("encoding", ["16UC1", "mono16"])
@pytest.mark.parametrize("bigendian", [False, True])
def test_sixteen_bit_respects_byte_order(encoding: str, bigendian: bool) -> None:
    depth_mm = np.array([[0, 1, 258, 65535], [1000, 4095, 513, 7]], dtype=np.uint16)
    msg = image_msg(depth_mm, encoding, pad=2, bigendian=bigendian)
    out = decode_image(msg)
    assert out.dtype == np.uint16 and out.dtype.isnative
    np.testing.assert_array_equal(out, depth_mm)


def test_big_endian_16uc1_bytes_are_read_big_endian() -> None:
    # 0x0102 written big-endian; read little-endian it would be 0x0201 = 513.
    msg = SimpleNamespace(
        height=1, width=1, encoding="16UC1", is_bigendian=1, step=2, data=b"\x01\x02"
    )
    assert decode_image(msg)[0, 0] == 0x0102


@pytest.mark.parametrize("bigendian", [False, True])
def test_32fc1_depth_in_metres(bigendian: bool) -> None:
    depth_m = np.array([[0.5, 1.25, np.nan], [7.75, 0.0, np.inf]], dtype=np.float32)
    out = decode_image(image_msg(depth_m, "32FC1", pad=4, bigendian=bigendian))
    assert out.dtype == np.float32 and out.dtype.isnative and out.shape == (2, 3)
    np.testing.assert_array_equal(out, depth_m)  # NaN compares equal here


def test_decoded_image_owns_its_memory() -> None:
    rgb = colour()
    msg = image_msg(rgb, "rgb8")
    before = msg.data.copy()
    out = decode_image(msg)
    out[:] = 0
    np.testing.assert_array_equal(msg.data, before)


def test_image_built_with_the_rosbags_typestore() -> None:
    types = get_typestore(Stores.ROS2_HUMBLE).types
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=1, nanosec=2), frame_id="cam"
    )
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    msg = types["sensor_msgs/msg/Image"](
        header=header,
        height=3,
        width=4,
        encoding="mono8",
        is_bigendian=0,
        step=4,
        data=grey.reshape(-1),
    )
    np.testing.assert_array_equal(decode_image(msg), grey)


def test_unsupported_encoding_is_a_data_error() -> None:
    msg = SimpleNamespace(
        height=1, width=2, encoding="yuv422", is_bigendian=0, step=4, data=b"1234"
    )
    with pytest.raises(DecodeError, match="unsupported image encoding 'yuv422'") as info:
        decode_image(msg)
    assert isinstance(info.value, DataError)
    assert info.value.exit_code == 3
    assert "\n" not in str(info.value)


def test_short_image_data_names_the_sizes() -> None:
    msg = image_msg(colour(), "rgb8", pad=1)
    msg.data = msg.data[:10]
    with pytest.raises(DecodeError, match=r"image data is 10 bytes, expected 48 for 3x5 rgb8"):
        decode_image(msg)


def test_step_shorter_than_a_row_is_rejected() -> None:
    msg = SimpleNamespace(
        height=2, width=4, encoding="rgb8", is_bigendian=0, step=8, data=bytes(16)
    )
    with pytest.raises(DecodeError, match="image step is 8 bytes"):
        decode_image(msg)


# --- sensor_msgs/CompressedImage -----------------------------------------------------------------


def encoded(array: np.ndarray, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def smooth_rgb(height: int = 48, width: int = 64) -> np.ndarray:
    """Red ramp left to right, green top to bottom, blue constant: survives JPEG closely."""
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    return np.stack([x, y, np.full_like(x, 40)], axis=2).astype(np.uint8)


def test_jpeg_round_trip_keeps_rgb_order() -> None:
    rgb = smooth_rgb()
    msg = SimpleNamespace(
        format="rgb8; jpeg compressed bgr8", data=encoded(rgb, "JPEG", quality=95)
    )
    out = decode_compressed(msg)
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb.astype(int)).mean() < 2.0
    # red ramps along x, blue stays low: a swapped channel order would break both
    assert out[:, -1, 0].mean() > 240 and out[:, :, 2].mean() < 60


def test_png_round_trip_is_exact() -> None:
    rgb = colour(20, 30)
    out = decode_compressed(SimpleNamespace(format="png", data=encoded(rgb, "PNG")))
    np.testing.assert_array_equal(out, rgb)


def test_grey_png_is_two_dimensional_uint8() -> None:
    grey = colour(20, 30)[:, :, 1]
    out = decode_compressed(
        SimpleNamespace(format="mono8; png compressed mono8", data=encoded(grey, "PNG"))
    )
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, grey)


def test_rgba_png_drops_alpha() -> None:
    rgb = colour(4, 6)
    rgba = np.concatenate([rgb, np.full((4, 6, 1), 9, np.uint8)], axis=2)
    out = decode_compressed(SimpleNamespace(format="png", data=encoded(rgba, "PNG")))
    np.testing.assert_array_equal(out, rgb)


def test_sixteen_bit_png_is_uint16() -> None:
    depth_mm = (np.arange(20 * 30, dtype=np.uint16) * 97).reshape(20, 30)
    out = decode_compressed(SimpleNamespace(format="16UC1; png", data=encoded(depth_mm, "PNG")))
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, depth_mm)


def test_compressed_depth_16uc1_skips_its_header() -> None:
    depth_mm = (np.arange(12 * 16, dtype=np.uint16) * 311).reshape(12, 16)
    header = struct.pack("<i2f", 0, 0.0, 0.0)
    msg = SimpleNamespace(
        format="16UC1; compressedDepth png", data=header + encoded(depth_mm, "PNG")
    )
    out = decode_compressed(msg)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, depth_mm)


def test_compressed_depth_32fc1_undoes_the_inverse_depth_quantisation() -> None:
    # compressed_depth_image_transport: A = q (q + 1), B = 1 - A / max_depth, v = A / d + B.
    quant, max_depth = 100.0, 10.0
    quant_a = quant * (quant + 1.0)
    quant_b = 1.0 - quant_a / max_depth
    depth_m = np.linspace(0.5, 6.0, 40, dtype=np.float32).reshape(5, 8)
    inverse = (quant_a / depth_m + quant_b).astype(np.uint16)
    inverse[0, 0] = 0  # invalid
    header = struct.pack("<i2f", 0, quant_a, quant_b)
    msg = SimpleNamespace(
        format="32FC1; compressedDepth png", data=header + encoded(inverse, "PNG")
    )
    out = decode_compressed(msg)
    assert out.dtype == np.float32 and out.shape == (5, 8)
    assert np.isnan(out[0, 0])
    valid = ~np.isnan(out)
    assert valid.sum() == 39
    # quantisation step at 6 m is d^2 / A ~ 3.6 mm
    np.testing.assert_allclose(out[valid], depth_m[valid], atol=0.005)


def test_compressed_depth_without_png_is_rejected() -> None:
    msg = SimpleNamespace(format="16UC1; compressedDepth png", data=bytes(40))
    with pytest.raises(DecodeError, match="no PNG image"):
        decode_compressed(msg)


def test_truncated_jpeg_is_a_decode_error() -> None:
    data = encoded(smooth_rgb(), "JPEG", quality=90)
    msg = SimpleNamespace(format="jpeg", data=data[: len(data) // 2])
    with pytest.raises(DecodeError, match="compressed image is corrupt"):
        decode_compressed(msg)


def test_garbage_is_not_an_image() -> None:
    msg = SimpleNamespace(format="jpeg", data=b"not an image at all")
    with pytest.raises(DecodeError, match=r"not a JPEG or PNG image \(19 bytes\)"):
        decode_compressed(msg)


def test_unsupported_compressed_format() -> None:
    msg = SimpleNamespace(format="rgb8; tiff compressed", data=b"II*\x00")
    with pytest.raises(DecodeError, match="unsupported compressed image format"):
        decode_compressed(msg)


# --- sensor_msgs/PointCloud2 ---------------------------------------------------------------------

F = SimpleNamespace(INT8=1, UINT8=2, INT16=3, UINT16=4, INT32=5, UINT32=6, FLOAT32=7, FLOAT64=8)
STRUCT_CODES = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "f", 8: "d"}


def field(name: str, offset: int, datatype: int, count: int = 1) -> SimpleNamespace:
    return SimpleNamespace(name=name, offset=offset, datatype=datatype, count=count)


def cloud_msg(
    fields: list[SimpleNamespace],
    points: list[dict[str, object]],
    *,
    point_step: int,
    width: int | None = None,
    height: int = 1,
    row_pad: int = 0,
    bigendian: bool = False,
) -> SimpleNamespace:
    """Pack points with ``struct`` one value at a time (independent of the decoder's dtypes).

    Unset bytes (padding between fields, after them, at row ends) are 0xFF, which reads as NaN
    for any float that strays into them.
    """
    width = len(points) // height if width is None else width
    order = ">" if bigendian else "<"
    row_step = width * point_step + row_pad
    data = bytearray(b"\xff" * (row_step * height))
    for index, point in enumerate(points):
        row, col = divmod(index, width)
        base = row * row_step + col * point_step
        for f in fields:
            values = point[f.name] if f.count > 1 else [point[f.name]]
            code = order + STRUCT_CODES[f.datatype]
            for k, value in enumerate(values):
                struct.pack_into(code, data, base + f.offset + k * struct.calcsize(code), value)
    return SimpleNamespace(
        height=height,
        width=width,
        fields=fields,
        is_bigendian=int(bigendian),
        point_step=point_step,
        row_step=row_step,
        data=np.frombuffer(bytes(data), dtype=np.uint8),
        is_dense=False,
    )


XYZI = [
    field("x", 0, F.FLOAT32),
    field("y", 4, F.FLOAT32),
    field("z", 8, F.FLOAT32),
    field("intensity", 16, F.FLOAT32),
    field("ring", 20, F.UINT16),
    field("t", 24, F.FLOAT64),
]


def xyzi_points(n: int) -> list[dict[str, object]]:
    return [
        {
            "x": 1.0 + i,
            "y": -2.0 * i,
            "z": 0.5,
            "intensity": 10.0 * i,
            "ring": i % 16,
            "t": 1e-3 * i,
        }
        for i in range(n)
    ]


def test_padding_between_and_after_fields() -> None:
    points = xyzi_points(5)
    cloud = decode_pointcloud2(cloud_msg(XYZI, points, point_step=40))
    assert isinstance(cloud, Cloud)
    assert cloud.xyz.dtype == np.float32 and cloud.xyz.shape == (5, 3)
    np.testing.assert_array_equal(cloud.xyz[:, 0], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(cloud.xyz[:, 1], [0, -2, -4, -6, -8])
    assert set(cloud.fields) == {"intensity", "ring", "t"}
    assert cloud.fields["ring"].dtype == np.uint16
    assert cloud.fields["t"].dtype == np.float64
    np.testing.assert_array_equal(cloud.fields["intensity"], [0, 10, 20, 30, 40])
    np.testing.assert_array_equal(cloud.fields["t"], [1e-3 * i for i in range(5)])
    assert cloud.dropped_nonfinite == 0


ALL_TYPES = [
    field("x", 0, F.FLOAT32),
    field("y", 4, F.FLOAT32),
    field("z", 8, F.FLOAT32),
    field("i8", 12, F.INT8),
    field("u8", 13, F.UINT8),
    field("i16", 14, F.INT16),
    field("u16", 16, F.UINT16),
    field("i32", 20, F.INT32),
    field("u32", 24, F.UINT32),
    field("f64", 28, F.FLOAT64),
]
ALL_VALUES = {
    "i8": [-128, 5, 127],
    "u8": [0, 200, 255],
    "i16": [-32768, 300, 32767],
    "u16": [0, 0x0102, 65535],
    "i32": [-(2**31), 70000, 2**31 - 1],
    "u32": [0, 0x01020304, 2**32 - 1],
    "f64": [-1.5e300, 0.1, 2.0**-30],
}
ALL_DTYPES = {
    "i8": "i1",
    "u8": "u1",
    "i16": "i2",
    "u16": "u2",
    "i32": "i4",
    "u32": "u4",
    "f64": "f8",
}


@pytest.mark.parametrize("bigendian", [False, True])
def test_every_datatype_in_both_byte_orders(bigendian: bool) -> None:
    points = [
        {"x": 0.25 * i, "y": 1.0, "z": -3.5} | {k: v[i] for k, v in ALL_VALUES.items()}
        for i in range(3)
    ]
    cloud = decode_pointcloud2(cloud_msg(ALL_TYPES, points, point_step=36, bigendian=bigendian))
    np.testing.assert_array_equal(cloud.xyz, [[0, 1, -3.5], [0.25, 1, -3.5], [0.5, 1, -3.5]])
    for name, values in ALL_VALUES.items():
        column = cloud.fields[name]
        assert column.dtype == np.dtype(ALL_DTYPES[name]), name
        assert column.dtype.isnative, name
        np.testing.assert_array_equal(column, values, err_msg=name)


def test_float64_xyz_is_cast_to_float32() -> None:
    fields = [field("x", 0, F.FLOAT64), field("y", 8, F.FLOAT64), field("z", 16, F.FLOAT64)]
    points = [{"x": 1.0 / 3.0, "y": 1e5 + 0.125, "z": -7.0}, {"x": 1e40, "y": 0.0, "z": 0.0}]
    cloud = decode_pointcloud2(cloud_msg(fields, points, point_step=24))
    assert cloud.xyz.dtype == np.float32
    # 1e40 does not fit a float32: it becomes inf and the point is dropped
    assert len(cloud) == 1 and cloud.dropped_nonfinite == 1
    np.testing.assert_array_equal(cloud.xyz[0], np.float32([1.0 / 3.0, 1e5 + 0.125, -7.0]))


def test_organised_cloud_with_row_padding() -> None:
    fields = [field("x", 0, F.FLOAT32), field("y", 4, F.FLOAT32), field("z", 8, F.FLOAT32)]
    points = [{"x": float(i), "y": float(10 * i), "z": 1.0} for i in range(6)]
    msg = cloud_msg(fields, points, point_step=16, height=2, row_pad=12)
    assert msg.row_step == 3 * 16 + 12
    cloud = decode_pointcloud2(msg)
    assert cloud.dropped_nonfinite == 0
    np.testing.assert_array_equal(cloud.xyz[:, 0], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(cloud.xyz[:, 1], [0, 10, 20, 30, 40, 50])


def test_organised_cloud_without_last_row_padding_still_decodes() -> None:
    fields = [field("x", 0, F.FLOAT32), field("y", 4, F.FLOAT32), field("z", 8, F.FLOAT32)]
    points = [{"x": float(i), "y": 0.0, "z": 1.0} for i in range(4)]
    msg = cloud_msg(fields, points, point_step=12, height=2, row_pad=4)
    msg.data = msg.data[:-4]
    np.testing.assert_array_equal(decode_pointcloud2(msg).xyz[:, 0], [0, 1, 2, 3])


def test_nonfinite_points_are_dropped_from_every_field() -> None:
    points = xyzi_points(6)
    points[1]["x"] = float("nan")
    points[3]["z"] = float("inf")
    points[4]["y"] = float("-inf")
    cloud = decode_pointcloud2(cloud_msg(XYZI, points, point_step=32, width=3, height=2))
    assert cloud.dropped_nonfinite == 3
    assert len(cloud) + cloud.dropped_nonfinite == 6
    assert np.isfinite(cloud.xyz).all()
    np.testing.assert_array_equal(cloud.xyz[:, 0], [1, 3, 6])
    np.testing.assert_array_equal(cloud.fields["intensity"], [0, 20, 50])
    np.testing.assert_array_equal(cloud.fields["ring"], [0, 2, 5])


def test_field_with_count_is_two_dimensional() -> None:
    fields = [
        field("x", 0, F.FLOAT32),
        field("y", 4, F.FLOAT32),
        field("z", 8, F.FLOAT32),
        field("normal", 12, F.FLOAT32, count=3),
        field("tag", 24, F.UINT8, count=4),
    ]
    points = [
        {"x": 0.0, "y": 0.0, "z": float(i), "normal": [i, 0.5, -1.0], "tag": [i, 1, 2, 3]}
        for i in range(4)
    ]
    cloud = decode_pointcloud2(cloud_msg(fields, points, point_step=28))
    assert cloud.fields["normal"].shape == (4, 3)
    assert cloud.fields["tag"].shape == (4, 4) and cloud.fields["tag"].dtype == np.uint8
    np.testing.assert_array_equal(cloud.fields["normal"][:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(cloud.fields["tag"][2], [2, 1, 2, 3])


def test_empty_cloud() -> None:
    msg = cloud_msg(XYZI, [], point_step=32, width=0)
    cloud = decode_pointcloud2(msg)
    assert cloud.xyz.shape == (0, 3) and cloud.dropped_nonfinite == 0
    assert cloud.fields["ring"].shape == (0,)


def test_missing_z_is_named() -> None:
    fields = [field("x", 0, F.FLOAT32), field("y", 4, F.FLOAT32), field("i", 8, F.FLOAT32)]
    msg = cloud_msg(fields, [{"x": 0.0, "y": 0.0, "i": 0.0}], point_step=12)
    with pytest.raises(DecodeError, match=r"has no z field \(fields: x, y, i\)"):
        decode_pointcloud2(msg)


def test_no_xyz_at_all() -> None:
    fields = [field("range", 0, F.FLOAT32)]
    msg = cloud_msg(fields, [{"range": 1.0}], point_step=4)
    with pytest.raises(DecodeError, match=r"has no x, y, z fields \(fields: range\)"):
        decode_pointcloud2(msg)


def test_short_cloud_data() -> None:
    msg = cloud_msg(XYZI, xyzi_points(4), point_step=32)
    msg.data = msg.data[:100]
    with pytest.raises(DecodeError, match=r"point cloud data is 100 bytes, expected 128"):
        decode_pointcloud2(msg)


def test_field_past_point_step() -> None:
    msg = cloud_msg(XYZI, xyzi_points(2), point_step=32)
    msg.point_step = 28  # t (float64 at 24) no longer fits
    with pytest.raises(DecodeError, match=r"'t' spans bytes 24..32, past point_step 28"):
        decode_pointcloud2(msg)


def test_unknown_datatype() -> None:
    msg = cloud_msg(XYZI, xyzi_points(2), point_step=32)
    msg.fields = [*msg.fields[:3], field("weird", 12, 9)]
    with pytest.raises(DecodeError, match="unknown datatype 9"):
        decode_pointcloud2(msg)


def test_overlapping_rows() -> None:
    msg = cloud_msg(XYZI, xyzi_points(4), point_step=32, height=2)
    msg.row_step = 40
    with pytest.raises(DecodeError, match="row_step 40 is less than width 2 x point_step 32"):
        decode_pointcloud2(msg)


# --- real recordings -----------------------------------------------------------------------------


def strided_field(raw: bytes, f: object, n: int, point_step: int) -> np.ndarray:
    """One field read straight from the bytes: a strided view, no structured dtype."""
    kind = {4: "<u2", 6: "<u4", 7: "<f4"}[f.datatype]
    return np.ndarray((n,), dtype=kind, buffer=raw, offset=f.offset, strides=(point_step,))


def test_luminar_cloud_decodes_exactly() -> None:
    with AnyReader([DATA / "ros1" / "embag_test.bag"]) as reader:
        connections = [c for c in reader.connections if c.topic == "/luminar_pointcloud"]
        conn, _, rawdata = next(reader.messages(connections=connections))
        msg = reader.deserialize(rawdata, conn.msgtype)
    assert (msg.height, msg.width, msg.point_step) == (1, 35_707, 32)
    layout = {f.name: (f.offset, f.datatype) for f in msg.fields}
    assert layout == {
        "x": (0, 7),
        "y": (4, 7),
        "z": (8, 7),
        "intensity": (16, 7),
        "time_sec": (20, 6),
        "time_nsec": (24, 6),
        "laser_id": (28, 4),
    }

    cloud = decode_pointcloud2(msg)

    n = msg.width * msg.height
    raw = msg.data.tobytes()
    expected = {f.name: strided_field(raw, f, n, msg.point_step) for f in msg.fields}
    finite = np.isfinite(np.stack([expected[a] for a in "xyz"], axis=1)).all(axis=1)
    assert len(cloud) == finite.sum() == 35_707
    assert len(cloud) + cloud.dropped_nonfinite == n
    for axis, name in enumerate("xyz"):
        np.testing.assert_array_equal(cloud.xyz[:, axis], expected[name][finite])
    assert set(cloud.fields) == {"intensity", "time_sec", "time_nsec", "laser_id"}
    for name, column in cloud.fields.items():
        assert column.dtype == expected[name].dtype, name
        np.testing.assert_array_equal(column, expected[name][finite], err_msg=name)
    # sanity on the content: a real scan, stamps in Feb 2020, two laser heads
    assert set(np.unique(cloud.fields["laser_id"])) <= {0, 1}
    assert np.all(cloud.fields["time_sec"] > 1_500_000_000)


@pytest.mark.parametrize("name", ["rosbags-rs_test_bag_sqlite3", "rosbags-rs_test_bag_mcap"])
def test_rosbags_rs_bag_images_are_rejected_and_clouds_decode(name: str) -> None:
    decoders = {
        "sensor_msgs/msg/Image": decode_image,
        "sensor_msgs/msg/CompressedImage": decode_compressed,
        "sensor_msgs/msg/PointCloud2": decode_pointcloud2,
    }
    seen = {msgtype: 0 for msgtype in decoders}
    with AnyReader([DATA / "ros2" / name]) as reader:
        connections = [c for c in reader.connections if c.msgtype in decoders]
        for conn, _, rawdata in reader.messages(connections=connections):
            msg = reader.deserialize(rawdata, conn.msgtype)
            seen[conn.msgtype] += 1
            decode = decoders[conn.msgtype]
            if conn.msgtype == "sensor_msgs/msg/Image":
                with pytest.raises(
                    DecodeError, match="image data is 30 bytes, expected 921600 for 480x640 rgb8"
                ):
                    decode(msg)
            elif conn.msgtype == "sensor_msgs/msg/CompressedImage":
                with pytest.raises(DecodeError, match=r"compressed image is corrupt \(10 bytes\)"):
                    decode(msg)
            else:
                cloud = decode(msg)
                assert len(cloud) + cloud.dropped_nonfinite == msg.width * msg.height == 3
                assert cloud.xyz.shape == (3, 3)
    assert all(count == 2 for count in seen.values()), seen
