"""Still-image variants with Pillow: upright, sRGB, metadata stripped, JPEG and WebP."""

from __future__ import annotations

import concurrent.futures
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageOps

from .exceptions import MediaLimitError, ProcessingError

JPEG_QUALITY = 82
WEBP_QUALITY = 80
# resize() first shrinks by an integer factor with reduce() when the target is
# this many times smaller, then resamples: near-LANCZOS quality at a fraction of
# the cost. https://pillow.readthedocs.io/en/stable/reference/Image.html#PIL.Image.Image.resize
REDUCING_GAP = 3.0
FORMATS = (("jpeg", "jpg"), ("webp", "webp"))
_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class ImageVariant:
    width: int
    height: int
    format: str  # "jpeg" | "webp"
    path: Path
    size_bytes: int

    @property
    def name(self) -> str:
        return self.path.name


def plan_widths(source_width: int, widths: Sequence[int]) -> list[int]:
    """Widths to make, largest first: never wider than the source, and the source's own when it is
    narrower than the largest (a browser would otherwise upscale the next smaller one)."""
    chosen = {w for w in widths if w <= source_width}
    if not widths or source_width < max(widths):
        chosen.add(source_width)
    return sorted(chosen, reverse=True)


def make_image_variants(src: Path, out_dir: Path, widths: Sequence[int], *, max_pixels: int) -> list[ImageVariant]:
    """Decode `src` once and write every width in JPEG and WebP to `out_dir/<width>.<ext>`.

    Each width is resized from the next larger one (fewer pixels to filter than from
    the full picture each time), and the encodes, which Pillow runs without the GIL,
    go in parallel.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    image = _load_upright(src, widths, max_pixels)
    jobs = []
    larger = image
    for width in plan_widths(image.width, widths):
        height = max(1, round(image.height * width / image.width))
        larger = larger.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
        jobs += [(larger, out_dir / f"{width}.{ext}", fmt) for fmt, ext in FORMATS]
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(lambda job: _save(*job), jobs))
    return [ImageVariant(resized.width, resized.height, fmt, path, path.stat().st_size) for resized, path, fmt in jobs]


def load_upright(src: Path, *, widest: int, max_pixels: int) -> Image.Image:
    """The picture decoded upright in sRGB, no metadata, at least `widest` pixels wide where it is
    that wide (JPEG decodes scaled down in the DCT). MediaLimitError over `max_pixels`,
    ProcessingError if it cannot be decoded."""
    return _load_upright(src, [widest], max_pixels)


def _load_upright(src: Path, widths: Sequence[int], max_pixels: int) -> Image.Image:
    try:
        with Image.open(src) as im:
            if im.width * im.height > max_pixels:
                raise MediaLimitError(
                    f"The image is {im.width}×{im.height} pixels; the limit is {max_pixels:,} pixels in all."
                )
            if getattr(im, "is_animated", False):
                im.seek(0)  # stills of an animation use its first frame
            _draft(im, max(widths))
            im.load()
            icc = im.info.get("icc_profile")
            upright = ImageOps.exif_transpose(im)
            return _to_display_mode(upright, icc)
    except (MediaLimitError, ProcessingError):
        raise
    except Image.DecompressionBombError as exc:
        raise MediaLimitError(f"The image has too many pixels to process safely ({exc}).") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ProcessingError(f"The image is damaged or cut short and could not be decoded ({exc}).") from exc


def _draft(im: Image.Image, widest: int) -> None:
    """Let the JPEG decoder scale by 1/2, 1/4 or 1/8 in the DCT when we need far fewer pixels."""
    if im.format not in ("JPEG", "MPO"):
        return
    orientation = im.getexif().get(0x0112, 1)
    display_width = im.height if orientation in (5, 6, 7, 8) else im.width
    scale = min(1.0, widest / display_width)
    # draft() never goes below the requested size, so the widest variant stays sharp.
    im.draft("RGB", (math.ceil(im.width * scale), math.ceil(im.height * scale)))


def _to_display_mode(im: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB or RGBA in sRGB, whatever the source's mode (CMYK, palette, grey, 16-bit)."""
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    target = "RGBA" if has_alpha else "RGB"
    if icc:
        try:
            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if im.mode in ("CMYK", "RGB", "RGBA", "L"):
                im = ImageCms.profileToProfile(im, source_profile, _SRGB, outputMode=target)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile is ignored rather than failing the upload
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.point(lambda v: v / 256).convert("L")  # 16-bit grey down to 8 bits
    if im.mode != target:
        im = im.convert(target)
    im.info = {}  # nothing of the source's metadata may travel to the variants
    return im


def _save(im: Image.Image, path: Path, fmt: str) -> None:
    if fmt == "jpeg":
        if im.mode == "RGBA":
            flat = Image.new("RGB", im.size, (255, 255, 255))
            flat.paste(im, mask=im.getchannel("A"))
            im = flat
        im.save(path, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    else:
        im.save(path, "WEBP", quality=WEBP_QUALITY, method=4)
