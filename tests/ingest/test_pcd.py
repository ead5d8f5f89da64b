from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from robotops.errors import DataError
from robotops.ingest.decode import Cloud
from robotops.ingest.errors import DecodeError
from robotops.ingest.pcd import decode_pcd, lzf_decompress, read_pcd

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PCD = DATA / "pcd"


def header_of(path: Path) -> dict[str, list[str]]:
    """The header lines of a PCD file, read here independently of the reader under test."""
    entries: dict[str, list[str]] = {}
    with path.open("rb") as stream:
        for raw in stream:
            line = raw.decode("latin-1").strip()
            if not line or line.startswith("#"):
                continue
            key, *values = line.split()
            entries[key] = values
            if key == "DATA":
                return entries
    raise AssertionError("no DATA line")


def body_of(path: Path) -> bytes:
    blob = path.read_bytes()
    start = blob.index(b"\nDATA ")
    return blob[blob.index(b"\n", start + 1) + 1 :]


def pcd_bytes(
    fields: str,
    size: str,
    type_: str,
    count: str | None,
    width: int,
    height: int,
    data: str,
    body: bytes,
    points: int | None = None,
) -> bytes:
    lines = [
        "# .PCD v0.7 - Point Cloud Data file format",
        "VERSION 0.7",
        f"FIELDS {fields}",
        f"SIZE {size}",
        f"TYPE {type_}",
        *([f"COUNT {count}"] if count is not None else []),
        f"WIDTH {width}",
        f"HEIGHT {height}",
        "VIEWPOINT 0 0 0 1 0 0 0",
        f"POINTS {width * height if points is None else points}",
        f"DATA {data}",
    ]
    return ("\n".join(lines) + "\n").encode() + body


def lzf_literals(data: bytes) -> bytes:
    """The simplest valid LZF stream: literal runs of up to 32 bytes, no back references."""
    out = bytearray()
    for start in range(0, len(data), 32):
        chunk = data[start : start + 32]
        out.append(len(chunk) - 1)
        out += chunk
    return bytes(out)


def compressed_body(raw: bytes, stream: bytes | None = None) -> bytes:
    stream = lzf_literals(raw) if stream is None else stream
    return struct.pack("<II", len(stream), len(raw)) + stream


# --- the real files ------------------------------------------------------------------------------


def test_bunny_ascii() -> None:
    path = PCD / "pcl_bunny.pcd"
    assert header_of(path)["DATA"] == ["ascii"]
    cloud = read_pcd(path)
    assert isinstance(cloud, Cloud)
    assert len(cloud) == int(header_of(path)["POINTS"][0]) == 397
    assert cloud.fields == {} and cloud.dropped_nonfinite == 0
    assert cloud.xyz.dtype == np.float32
    expected = np.loadtxt(body_of(path).decode().splitlines(), dtype=np.float32)
    np.testing.assert_array_equal(cloud.xyz, expected)
    np.testing.assert_array_equal(cloud.xyz[0], np.float32([0.0054216, 0.11349, 0.040749]))


def test_milk_binary_compressed() -> None:
    path = PCD / "pcl_milk.pcd"
    header = header_of(path)
    assert header["DATA"] == ["binary_compressed"]
    cloud = read_pcd(path)
    assert len(cloud) + cloud.dropped_nonfinite == int(header["POINTS"][0]) == 13_704
    assert set(cloud.fields) == set(header["FIELDS"]) - {"x", "y", "z"}
    # a milk carton a little under a metre in front of the camera: a broken LZF decode or a
    # wrong column layout would scatter values far beyond this box
    assert np.all(np.abs(cloud.xyz[:, :2]) < 0.5)
    assert np.all((cloud.xyz[:, 2] > 0.5) & (cloud.xyz[:, 2] < 1.0))


def test_colored_cloud_binary_packed_rgb_matches_raw_records() -> None:
    path = PCD / "pcl_colored_cloud.pcd"
    header = header_of(path)
    assert header["DATA"] == ["binary"]
    cloud = read_pcd(path)
    n = int(header["POINTS"][0])
    assert len(cloud) == n == 1000
    # eight 4-byte fields per point: x y z rgb(U) normal_x normal_y normal_z curvature
    records = np.frombuffer(body_of(path)[: n * 32], dtype="<u4").reshape(n, 8)
    np.testing.assert_array_equal(cloud.xyz, records[:, :3].view("<f4"))
    assert cloud.fields["rgb"].dtype == np.uint32
    np.testing.assert_array_equal(cloud.fields["rgb"], records[:, 3])
    np.testing.assert_array_equal(cloud.fields["curvature"], records[:, 7].view("<f4"))
    assert list(cloud.fields) == ["rgb", "normal_x", "normal_y", "normal_z", "curvature"]


def test_table_scene_organised_with_nan() -> None:
    path = PCD / "pcl_table_scene_mug_stereo_textured.pcd"
    header = header_of(path)
    assert (header["WIDTH"], header["HEIGHT"]) == (["640"], ["480"])
    cloud = read_pcd(path)
    assert len(cloud) + cloud.dropped_nonfinite == 640 * 480 == int(header["POINTS"][0])
    assert cloud.dropped_nonfinite == 97_920
    assert not np.isnan(cloud.xyz).any()
    assert cloud.fields["rgba"].dtype == np.uint32
    assert cloud.fields["rgba"].shape == (len(cloud),)
    # stereo depth: everything kept is in front of the camera, within a few metres
    assert np.all((cloud.xyz[:, 2] > 0.5) & (cloud.xyz[:, 2] < 3.0))


def test_pcl_logo_float_rgb_stays_float32() -> None:
    path = PCD / "pcl_pcl_logo.pcd"
    header = header_of(path)
    assert header["TYPE"][header["FIELDS"].index("rgb")] == "F"
    cloud = read_pcd(path)
    assert len(cloud) + cloud.dropped_nonfinite == int(header["POINTS"][0]) == 12_909
    rgb = cloud.fields["rgb"]
    assert rgb.dtype == np.float32 and rgb.shape == (len(cloud),)
    assert np.all(cloud.xyz[:, 2] == 0.0)  # a flat logo


def test_brisk_descriptors_have_no_xyz() -> None:
    with pytest.raises(
        DecodeError, match=r"has no x, y, z fields \(fields: .*brisk_descriptor512"
    ) as info:
        read_pcd(PCD / "pcl_brisk_descriptors_gt.pcd")
    assert isinstance(info.value, DataError)


def test_brisk_descriptor_columns_decompress_to_the_declared_size() -> None:
    # the reader refuses the file for want of xyz; its LZF stream must still be sound
    path = PCD / "pcl_brisk_descriptors_gt.pcd"
    body = body_of(path)
    compressed, uncompressed = struct.unpack_from("<II", body)
    raw = lzf_decompress(body[8 : 8 + compressed], uncompressed)
    assert len(raw) == 1534 * (4 + 4 + 64) == uncompressed


# --- synthetic files -----------------------------------------------------------------------------


def test_ascii_organised_with_nan_and_integer_fields() -> None:
    body = b"1 2 3 7 -1\n4 5 6 8 -2\nnan nan nan 9 -3\n10 11 12 65535 -4\n"
    blob = pcd_bytes(
        "x y z label offset", "4 4 4 2 1", "F F F U I", "1 1 1 1 1", 2, 2, "ascii", body
    )
    cloud = decode_pcd(blob)
    assert cloud.dropped_nonfinite == 1 and len(cloud) == 3
    np.testing.assert_array_equal(cloud.xyz, [[1, 2, 3], [4, 5, 6], [10, 11, 12]])
    assert cloud.fields["label"].dtype == np.uint16
    np.testing.assert_array_equal(cloud.fields["label"], [7, 8, 65535])
    assert cloud.fields["offset"].dtype == np.int8
    np.testing.assert_array_equal(cloud.fields["offset"], [-1, -2, -4])


def test_ascii_float_rgb_written_as_integer_keeps_its_bits() -> None:
    # PCL writes a float rgb field as the uint32 with the same bits; 0xFFFF0000 is a NaN float.
    body = b"0 0 1 4294901760\n0 0 2 4278255360\n"
    blob = pcd_bytes("x y z rgb", "4 4 4 4", "F F F F", None, 2, 1, "ascii", body)
    rgb = decode_pcd(blob).fields["rgb"]
    assert rgb.dtype == np.float32
    np.testing.assert_array_equal(rgb.view(np.uint32), [0xFFFF0000, 0xFF00FF00])


def test_ascii_with_a_count_and_padding_field() -> None:
    body = b"1 2 3 9 9 0.5 0.25 0.125\n"
    blob = pcd_bytes("x y z _ normal", "4 4 4 4 4", "F F F F F", "1 1 1 2 3", 1, 1, "ascii", body)
    cloud = decode_pcd(blob)
    assert set(cloud.fields) == {"normal"}
    np.testing.assert_array_equal(cloud.fields["normal"], [[0.5, 0.25, 0.125]])


def test_binary_with_padding_counts_and_mixed_types() -> None:
    dtype = np.dtype(
        [
            ("x", "<f8"),
            ("y", "<f8"),
            ("z", "<f8"),
            ("_", "u1", (3,)),
            ("id", "<i4"),
            ("h", "<u2", (2,)),
        ]
    )
    records = np.zeros(3, dtype=dtype)
    records["x"] = [0.1, 0.2, np.nan]
    records["y"] = [1, 2, 3]
    records["z"] = [-1, -2, -3]
    records["_"] = 0xAB
    records["id"] = [-5, 6, 7]
    records["h"] = [[1, 2], [3, 4], [5, 6]]
    blob = pcd_bytes(
        "x y z _ id h",
        "8 8 8 1 4 2",
        "F F F U I U",
        "1 1 1 3 1 2",
        3,
        1,
        "binary",
        records.tobytes(),
    )
    cloud = decode_pcd(blob)
    assert cloud.xyz.dtype == np.float32
    np.testing.assert_array_equal(cloud.xyz, np.float32([[0.1, 1, -1], [0.2, 2, -2]]))
    assert cloud.dropped_nonfinite == 1
    assert set(cloud.fields) == {"id", "h"}
    np.testing.assert_array_equal(cloud.fields["id"], [-5, 6])
    np.testing.assert_array_equal(cloud.fields["h"], [[1, 2], [3, 4]])


def test_binary_compressed_is_column_major() -> None:
    x = np.float32([1, 2, 3, 4])
    y = np.float32([5, 6, 7, 8])
    z = np.float32([9, 10, 11, np.nan])
    intensity = np.uint16([100, 200, 300, 400])
    raw = x.tobytes() + y.tobytes() + z.tobytes() + intensity.tobytes()
    blob = pcd_bytes(
        "x y z intensity",
        "4 4 4 2",
        "F F F U",
        "1 1 1 1",
        2,
        2,
        "binary_compressed",
        compressed_body(raw),
    )
    cloud = decode_pcd(blob)
    np.testing.assert_array_equal(cloud.xyz, [[1, 5, 9], [2, 6, 10], [3, 7, 11]])
    np.testing.assert_array_equal(cloud.fields["intensity"], [100, 200, 300])
    assert cloud.dropped_nonfinite == 1


def test_binary_compressed_leaves_padding_fields_out() -> None:
    x, y, z = np.float32([1, 2]), np.float32([3, 4]), np.float32([5, 6])
    raw = x.tobytes() + y.tobytes() + z.tobytes()  # "_" is not stored, as PCL writes it
    blob = pcd_bytes(
        "x y z _", "4 4 4 4", "F F F F", None, 2, 1, "binary_compressed", compressed_body(raw)
    )
    np.testing.assert_array_equal(decode_pcd(blob).xyz, [[1, 3, 5], [2, 4, 6]])


def test_binary_compressed_that_kept_its_padding_fields() -> None:
    # writers other than PCL (pypcd) store every declared column, "_" included
    x, y, z, pad = np.float32([1, 2]), np.float32([3, 4]), np.float32([5, 6]), np.float32([9, 9])
    raw = x.tobytes() + y.tobytes() + pad.tobytes() + z.tobytes()
    blob = pcd_bytes(
        "x y _ z", "4 4 4 4", "F F F F", None, 2, 1, "binary_compressed", compressed_body(raw)
    )
    np.testing.assert_array_equal(decode_pcd(blob).xyz, [[1, 3, 5], [2, 4, 6]])


def test_lzf_overlapping_back_reference_with_extended_length() -> None:
    # literal b"ab", then copy 47 bytes from 2 back: ctrl 0xE0 (length 7 + next byte 38 = 45,
    # plus 2), distance 0x00 + 2 - 1 = 1 -> "abab..."; then a short reference: 3 bytes from 4 back.
    stream = bytes([0x01]) + b"ab" + bytes([0xE0, 38, 0x01]) + bytes([0x20, 0x03])
    out = lzf_decompress(stream, 2 + 47 + 3)
    assert out == (b"ab" * 25)[:49] + b"bab"


def test_binary_compressed_zero_cloud_with_back_references() -> None:
    # 4 points of x y z = 48 zero bytes: one literal zero, then 47 bytes copied from 1 back.
    stream = bytes([0x00, 0x00, 0xE0, 38, 0x00])
    blob = pcd_bytes(
        "x y z",
        "4 4 4",
        "F F F",
        None,
        4,
        1,
        "binary_compressed",
        compressed_body(bytes(48), stream),
    )
    cloud = decode_pcd(blob)
    assert len(cloud) == 4
    assert not cloud.xyz.any()


def test_read_pcd_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "tiny.pcd"
    path.write_bytes(pcd_bytes("x y z", "4 4 4", "F F F", None, 1, 1, "ascii", b"1 2 3\n"))
    np.testing.assert_array_equal(read_pcd(path).xyz, [[1, 2, 3]])
    with pytest.raises(DecodeError, match="cannot read PCD file"):
        read_pcd(tmp_path / "missing.pcd")


BAD_HEADERS = [
    ({"points": 5}, r"POINTS 5 is not WIDTH x HEIGHT = 2x2 = 4"),
    ({"size": "4 4"}, r"has 3 FIELDS but 2 SIZE values"),
    ({"type_": "F F F F"}, r"has 3 FIELDS but 4 TYPE values"),
    ({"count": "1 1"}, r"has 3 FIELDS but 2 COUNT values"),
    (
        {"data": "binary_lz4"},
        r"PCD DATA 'binary_lz4' is not one of ascii, binary, binary_compressed",
    ),
    ({"type_": "F F X"}, r"field 'z' has unsupported TYPE X with SIZE 4"),
    ({"size": "4 4 2"}, r"field 'z' has unsupported TYPE F with SIZE 2"),
    ({"fields": "x y x"}, r"names a field twice"),
]


@pytest.mark.parametrize(("change", "message"), BAD_HEADERS)
def test_inconsistent_header(change: dict[str, object], message: str) -> None:
    args = {
        "fields": "x y z",
        "size": "4 4 4",
        "type_": "F F F",
        "count": "1 1 1",
        "width": 2,
        "height": 2,
        "data": "binary",
        "body": bytes(48),
    }
    args |= change
    with pytest.raises(DecodeError, match=message) as info:
        decode_pcd(pcd_bytes(**args))
    assert "\n" not in str(info.value)


def test_short_binary_data() -> None:
    blob = pcd_bytes("x y z", "4 4 4", "F F F", None, 2, 2, "binary", bytes(40))
    with pytest.raises(
        DecodeError, match=r"PCD binary data is 40 bytes, expected 48 for 4 points of 12 bytes"
    ):
        decode_pcd(blob)


def test_short_ascii_data() -> None:
    blob = pcd_bytes("x y z", "4 4 4", "F F F", None, 2, 1, "ascii", b"1 2 3\n4 5\n")
    with pytest.raises(DecodeError, match=r"ascii data has 5 values, expected 6"):
        decode_pcd(blob)


def test_ascii_value_that_is_not_a_number() -> None:
    blob = pcd_bytes("x y z i", "4 4 4 1", "F F F U", None, 1, 1, "ascii", b"1 2 3 1.5\n")
    with pytest.raises(DecodeError, match="field 'i' has a value that is not a number"):
        decode_pcd(blob)


def test_truncated_compressed_data() -> None:
    body = compressed_body(np.float32(np.arange(12)).tobytes())
    blob = pcd_bytes("x y z", "4 4 4", "F F F", None, 4, 1, "binary_compressed", body[:-10])
    with pytest.raises(DecodeError, match="compressed data is"):
        decode_pcd(blob)


def test_compressed_size_that_does_not_match_the_points() -> None:
    body = compressed_body(bytes(36))
    blob = pcd_bytes("x y z", "4 4 4", "F F F", None, 4, 1, "binary_compressed", body)
    with pytest.raises(DecodeError, match="uncompressed size is 36 bytes, expected 48"):
        decode_pcd(blob)


def test_lzf_reference_before_the_start() -> None:
    with pytest.raises(DecodeError, match="before the start"):
        lzf_decompress(bytes([0x00, 0x41, 0x20, 0x05]), 4)


def test_lzf_that_decompresses_short() -> None:
    with pytest.raises(DecodeError, match="decompresses to 2 bytes, expected 3"):
        lzf_decompress(bytes([0x01, 0x41, 0x42]), 3)


def test_not_a_pcd_file() -> None:
    with pytest.raises(DecodeError, match="not a PCD header line"):
        decode_pcd(b"\x89PNG\r\n\x1a\nrest")
    with pytest.raises(DecodeError, match="no DATA line"):
        decode_pcd(b"VERSION 0.7\nFIELDS x y z\n")
