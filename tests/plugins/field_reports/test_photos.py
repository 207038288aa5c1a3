"""Citizens' photos: accepted by content only, re-encoded without metadata, served with care."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from field_reports import photos
from field_reports.photos import PhotoLimits, PhotoRefused
from PIL import ExifTags, Image

from ioc_core import i18n
from ioc_core.auth.errors import FormError

LIMITS = PhotoLimits(max_photos=3, max_bytes=300_000)
# Phan Thiết: 10°55'44" N, 108°06'06" E.
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (10.0, 55.0, 44.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (108.0, 6.0, 6.0),
}


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The messages are checked in English, whatever the catalog translates them to."""
    with i18n.language("en"):
        yield


def picture(
    kind: str = "JPEG",
    size: tuple[int, int] = (64, 48),
    *,
    gps: bool = False,
    orientation: int | None = None,
    mode: str = "RGB",
) -> bytes:
    """A small photo made here, with EXIF (camera, GPS, orientation) when asked."""
    image = Image.new(mode, size, (200, 40, 40) if mode == "RGB" else (200, 40, 40, 128))
    image.paste((20, 20, 200) if mode == "RGB" else (20, 20, 200, 255), (0, 0, size[0] // 2, 8))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.BodySerialNumber] = "SERIAL-12345"
    if gps:
        exif[ExifTags.IFD.GPSInfo] = GPS
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    out = io.BytesIO()
    image.save(out, kind, exif=exif.tobytes())
    return out.getvalue()


def reopened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_no_metadata(data: bytes) -> None:
    image = reopened(data)
    assert len(image.getexif()) == 0
    assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info)
    assert b"PhoneMaker" not in data and b"SERIAL-12345" not in data


def test_gps_is_read_then_every_metadata_is_dropped() -> None:
    checked = photos.check("den.jpg", picture(gps=True), LIMITS.max_bytes)
    assert checked.content_type == "image/jpeg" and checked.extension == "jpg"
    lat, lon = checked.gps or (0, 0)
    assert lat == pytest.approx(10.928889, abs=1e-5) and lon == pytest.approx(108.101667, abs=1e-5)
    assert_no_metadata(checked.data)
    assert photos.check("x.jpg", picture(), LIMITS.max_bytes).gps is None


def test_the_camera_orientation_is_applied_before_it_is_dropped() -> None:
    # Orientation 6: the sensor's 64x48 picture is shown turned a quarter, 48x64.
    checked = photos.check("xoay.jpg", picture(orientation=6), LIMITS.max_bytes)
    assert reopened(checked.data).size == (48, 64)
    assert_no_metadata(checked.data)


@pytest.mark.parametrize(
    ("kind", "mode", "content_type"),
    [("PNG", "RGBA", "image/png"), ("WEBP", "RGB", "image/webp"), ("PNG", "RGB", "image/png")],
)
def test_png_and_webp_are_kept_in_their_format(kind: str, mode: str, content_type: str) -> None:
    checked = photos.check("anh", picture(kind, gps=True, mode=mode), LIMITS.max_bytes)
    assert checked.content_type == content_type and checked.gps is not None
    image = reopened(checked.data)
    assert image.format == kind and image.mode == mode
    assert_no_metadata(checked.data)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels in a few bytes: a decompression bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(out, "GIF")
    return out.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="40"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("ghi-chu.txt", "Đèn hỏng".encode(), "is not a JPEG, PNG or WebP photo"),
        ("anh.jpg", b"this is text, named like a photo\n" * 10, "is not a JPEG, PNG or WebP"),
        ("dong.gif", gif(), "is not a JPEG, PNG or WebP photo"),
        ("ve.svg", SVG, "is not a JPEG, PNG or WebP photo"),
        ("cut.jpg", picture(size=(400, 300))[:900], "is damaged or incomplete"),
        ("bom.png", png_header_only(30_000, 30_000), "has too many pixels"),
        ("wide.png", png_header_only(20_000, 100), "has too many pixels"),
        ("nho.png", picture("PNG", size=(4, 4)), "is too small"),
        ("lon.jpg", b"\xff\xd8" + b"\0" * LIMITS.max_bytes, "is larger than 0.3 MB"),
    ],
)
def test_what_is_not_a_sound_photo_is_refused_with_its_name(
    name: str, data: bytes, says: str
) -> None:
    with pytest.raises(PhotoRefused) as refused:
        photos.check(name, data, LIMITS.max_bytes)
    assert name in str(refused.value) and says in str(refused.value)


def test_bytes_hidden_after_the_image_do_not_survive() -> None:
    """A polyglot (a JPEG that is also an HTML page or a ZIP) is kept as its pixels only."""
    payload = b"<html><script>alert(document.cookie)</script></html>PK\x03\x04"
    checked = photos.check("polyglot.jpg", picture() + payload, LIMITS.max_bytes)
    assert b"script" not in checked.data and b"PK\x03\x04" not in checked.data
    assert reopened(checked.data).size == (64, 48)


def test_every_refusal_is_named_at_once_and_the_count_is_bounded() -> None:
    with pytest.raises(FormError) as refused:
        photos.check_all([("a.jpg", b"no"), ("b.gif", gif()), ("c.jpg", picture())], LIMITS)
    message = refused.value.errors["photos"]
    assert "a.jpg" in message and "b.gif" in message and "c.jpg" not in message
    with pytest.raises(FormError) as too_many:
        photos.check_all([("p.jpg", picture())] * 4, LIMITS)
    assert too_many.value.errors == {"photos": "At most 3 photos."}


def test_stored_files_are_removed_when_the_report_fails(tmp_path: Path) -> None:
    checked = photos.check_all([("a.jpg", picture()), ("b.png", picture("PNG"))], LIMITS)
    with photos.stored(checked, tmp_path) as kept:
        assert [Path(p.path).suffix for p in kept] == [".jpg", ".png"]
        assert all((tmp_path / p.path).is_file() for p in kept)
        assert kept[0].path.startswith("reports/") and kept[0].size == len(checked[0].data)
    with pytest.raises(RuntimeError), photos.stored(checked, tmp_path) as doomed:
        raise RuntimeError("the transaction failed")
    assert not any((tmp_path / p.path).exists() for p in doomed)
    assert len(list(tmp_path.rglob("*.*"))) == 2
