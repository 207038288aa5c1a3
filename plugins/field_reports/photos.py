"""Citizens' photos: checked by their content, stripped of every metadata, stored, and served.

    checked = check_all([("den.jpg", data)], PhotoLimits(max_photos=5, max_bytes=8_000_000))
    with stored(checked, media_root(settings)) as photos:   # files removed if the block fails
        await intake.submit(Submission(..., photos=photos), limits)

A photo is accepted only when Pillow decodes it completely as JPEG, PNG or WebP (whatever its
name or the browser's MIME header say), within the size and pixel limits. It is then redrawn
into a new image with the camera's orientation applied and saved again, so nothing of the
upload but its pixels is kept: no EXIF (GPS, camera serial), no XMP, no ICC profile, no bytes
appended after the image (polyglot files). The GPS position is read before that, to offer the
citizen as the report's place.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Response
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from field_reports.intake import Photo
from field_reports.tables import Report
from ioc_core.auth.errors import FormError
from ioc_core.i18n import gettext
from ioc_core.incidents.tables import Attachment
from ioc_core.settings import Settings

# Pillow format name → (content type, file extension). Only formats every browser shows.
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
# A phone photo is 12-50 megapixels; a small file that claims far more is a decompression bomb.
MAX_PIXELS = 60_000_000
MAX_SIDE = 16_000
MIN_SIDE = 16
JPEG_QUALITY = 88
MAX_NAME = 80


@dataclass(frozen=True)
class PhotoLimits:
    max_photos: int
    max_bytes: int

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> PhotoLimits:
        return cls(int(settings["max_photos"]), int(settings["max_photo_bytes"]))


@dataclass(frozen=True)
class CheckedPhoto:
    """A photo re-encoded without metadata, not yet written anywhere."""

    data: bytes
    content_type: str
    extension: str
    # Where the camera says it was taken (latitude, longitude), if it says so.
    gps: tuple[float, float] | None


class PhotoRefused(ValueError):
    """One upload that is not an acceptable photo; the message says why, for the citizen."""


def check(name: str, data: bytes, max_bytes: int) -> CheckedPhoto:
    """Decode `data` completely and re-encode it without metadata, or refuse it."""
    if len(data) > max_bytes:
        raise PhotoRefused(
            gettext("%(name)s is larger than %(mb)s MB.")
            % {"name": name, "mb": _megabytes(max_bytes)}
        )
    if not data:
        raise PhotoRefused(gettext("%(name)s is empty.") % {"name": name})
    not_a_photo = gettext("%(name)s is not a JPEG, PNG or WebP photo.") % {"name": name}
    try:
        # Only these decoders are tried: no exotic parser runs on an anonymous upload.
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise Image.DecompressionBombError(f"{width}x{height}")
            if min(width, height) < MIN_SIDE:
                raise PhotoRefused(
                    gettext("%(name)s is too small to show anything.") % {"name": name}
                )
            kind = str(image.format)
            gps = gps_of(image.getexif())
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image.load()  # decodes every byte: a truncated file fails here
                upright = ImageOps.exif_transpose(image)
            return CheckedPhoto(_reencoded(upright, kind), *FORMATS[kind], gps)
    except PhotoRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRefused(gettext("%(name)s has too many pixels.") % {"name": name}) from None
    except UnidentifiedImageError:
        raise PhotoRefused(not_a_photo) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        # Pillow's decoders report broken and truncated data with these.
        raise PhotoRefused(gettext("%(name)s is damaged or incomplete.") % {"name": name}) from None


def _reencoded(image: Image.Image, kind: str) -> bytes:
    """The pixels alone, in a new image: nothing of the upload's `info` (EXIF, XMP, ICC,
    comments, text chunks) can reach the saved file."""
    keeps_alpha = kind != "JPEG" and ("A" in image.getbands() or "transparency" in image.info)
    mode = "RGBA" if keeps_alpha else ("L" if image.mode in ("1", "L", "I;16") else "RGB")
    pixels = image.convert(mode)
    fresh = Image.frombytes(mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if kind == "JPEG":
        fresh.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif kind == "PNG":
        fresh.save(out, "PNG", optimize=True)
    else:
        fresh.save(out, "WEBP", quality=JPEG_QUALITY)
    return out.getvalue()


def gps_of(exif: Image.Exif) -> tuple[float, float] | None:
    """(latitude, longitude) from EXIF's GPS block, or None when absent or nonsense."""
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        lat = _degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef, "N"))
        lon = _degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef, "E"))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat, lon) == (0, 0):
        return None
    return round(lat, 6), round(lon, 6)


def _degrees(value: Sequence[Any], ref: Any) -> float:
    degrees, minutes, seconds = (float(v) for v in value)
    sign = -1 if str(ref).strip().upper() in ("S", "W") else 1
    return sign * (degrees + minutes / 60 + seconds / 3600)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g}"


def check_all(uploads: Sequence[tuple[str, bytes]], limits: PhotoLimits) -> list[CheckedPhoto]:
    """Every upload checked; every refusal named at once as the form's `photos` error."""
    if len(uploads) > limits.max_photos:
        raise FormError({"photos": gettext("At most %(n)s photos.") % {"n": limits.max_photos}})
    checked, problems = [], []
    for name, data in uploads:
        # The name is the client's: shown in the answer, so kept to a readable length.
        shown = name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"
        try:
            checked.append(check(shown, data, limits.max_bytes))
        except PhotoRefused as exc:
            problems.append(str(exc))
    if problems:
        raise FormError({"photos": " ".join(problems)})
    return checked


def media_root(settings: Settings) -> Path:
    return settings.var_dir / "media"


@contextmanager
def stored(checked: Sequence[CheckedPhoto], root: Path) -> Iterator[list[Photo]]:
    """Write the photos under `root/reports/<year>/`; if the block raises (the report is
    refused, or its transaction fails), the files written are removed again."""
    folder = Path("reports") / str(dt.datetime.now(dt.UTC).year)
    (root / folder).mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    photos = []
    try:
        for photo in checked:
            relative = folder / f"{secrets.token_urlsafe(18)}.{photo.extension}"
            # "x": never overwrite, however unlikely a repeated name is.
            with open(root / relative, "xb") as out:
                written.append(root / relative)
                out.write(photo.data)
            photos.append(Photo(relative.as_posix(), photo.content_type, len(photo.data)))
        yield photos
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


@get("/report-photos/{attachment_id:int}", opt={"public": True}, include_in_schema=False)
async def report_photo(
    request: Request[Any, Any, Any], attachment_id: FromPath[int]
) -> Response[bytes]:
    """A public photo of a report the public may see; 404 for anything else."""
    row = await (
        Attachment.select(Attachment.path, Attachment.content_type, Attachment.incident)
        .where(Attachment.id == attachment_id, Attachment.public.eq(True))
        .first()
    )
    if row is None or not await Report.exists().where(
        Report.incident == row["incident"], Report.hidden.eq(False)
    ):
        raise NotFoundException()
    root = media_root(request.app.state.runtime.settings).resolve()
    path = (root / row["path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFoundException()
    return Response(
        path.read_bytes(),
        media_type=row["content_type"],
        headers={
            "X-Content-Type-Options": "nosniff",
            # Moderation may hide the report: browsers ask again rather than keep a copy.
            "Cache-Control": "no-cache",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
