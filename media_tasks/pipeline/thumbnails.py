"""Poster frame and scrubbing sprite sheet (JPEG + WebVTT) for a video."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
from PIL import Image, ImageStat

from .exceptions import ProcessingError
from .probe import SAFE_INPUT_OPTIONS, MediaInfo
from .runner import QUIET_ARGS, run_ffmpeg

POSTER_MAX_SIDE = 1280
# Where to look for a poster, as fractions of the duration: the first is the
# usual 10%, the others are tried only if that frame is (nearly) black.
POSTER_POSITIONS = (0.10, 0.30, 0.50)
# A frame darker or flatter than this reads as "black" in a list of videos.
MIN_POSTER_BRIGHTNESS = 20.0
MIN_POSTER_CONTRAST = 8.0

TILE_WIDTH = 160
SPRITE_COLUMNS = 10
MAX_TILES = 100
MIN_TILE_SECONDS = 1.0
JPEG_QUALITY = 82


@dataclass(frozen=True)
class ImageFile:
    path: Path
    width: int
    height: int
    size_bytes: int


@dataclass(frozen=True)
class Sprite:
    image: ImageFile
    vtt: Path
    tiles: int
    tile_width: int
    tile_height: int
    interval: float


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(2, round(width * scale)), max(2, round(height * scale))


def poster_size(width: int, height: int) -> tuple[int, int]:
    """The poster's size for a picture this big: no side over POSTER_MAX_SIDE, never upscaled."""
    return _fit(width, height, POSTER_MAX_SIDE)


def _grab_frame(src: Path, info: MediaInfo, at: float, size: tuple[int, int], out: Path) -> None:
    # `thumbnail` keeps the most representative of a few frames after the seek
    # point, which already steps past most fades and flashes.
    cmd = (
        ffmpeg.input(str(src), ss=f"{at:.3f}", **SAFE_INPUT_OPTIONS)[str(info.video_stream_index)]
        .filter("thumbnail", 12)
        .filter("scale", size[0], size[1])
        .filter("setsar", 1)
        .output(str(out), vframes=1, **{"q:v": 2})
        .compile(cmd="ffmpeg")
    )
    cmd[1:1] = QUIET_ARGS
    run_ffmpeg(cmd, timeout=120, what="The poster frame")


def make_poster(src: Path, info: MediaInfo, out_path: Path, *, max_side: int = POSTER_MAX_SIDE) -> ImageFile:
    """A poster near 10% of the duration, moving on if that frame is black."""
    size = _fit(info.width, info.height, max_side)
    duration = info.duration or 0.0
    best: tuple[float, Path] | None = None
    # The last try, at 0 s, is for clips so short that any seek lands past their only frame.
    for i, position in enumerate((*POSTER_POSITIONS, 0.0)):
        if position == 0.0 and best is not None:
            break
        # BMP: the candidate is read back at once, and PNG's compression is wasted time.
        candidate = out_path.with_name(f"{out_path.stem}-{i}.bmp")
        _grab_frame(src, info, duration * position, size, candidate)
        if not candidate.exists():
            continue
        with Image.open(candidate) as im:
            stat = ImageStat.Stat(im.convert("L"))
        brightness, contrast = stat.mean[0], stat.stddev[0]
        if best is None or brightness > best[0]:
            best = (brightness, candidate)
        if brightness >= MIN_POSTER_BRIGHTNESS and contrast >= MIN_POSTER_CONTRAST:
            break
    if best is None:
        raise ProcessingError("No frame could be taken from the video for its poster.")
    with Image.open(best[1]) as im:
        im.convert("RGB").save(out_path, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    for leftover in out_path.parent.glob(f"{out_path.stem}-*.bmp"):
        leftover.unlink()
    return ImageFile(out_path, size[0], size[1], out_path.stat().st_size)


def make_sprite(
    src: Path,
    info: MediaInfo,
    out_dir: Path,
    *,
    tile_width: int = TILE_WIDTH,
    columns: int = SPRITE_COLUMNS,
    max_tiles: int = MAX_TILES,
) -> Sprite:
    """Evenly spaced tiles in one JPEG grid, and a WebVTT file mapping times to tiles.

    The VTT cues point at `sprite.jpg#xywh=x,y,w,h` (the convention of video.js,
    Plyr and JW Player thumbnail tracks), relative to the VTT file.
    """
    duration = info.duration or 0.0
    wanted = max(1, min(max_tiles, math.floor(duration / MIN_TILE_SECONDS)))
    tile_height = max(2, round(tile_width * info.height / info.width / 2) * 2)
    frames_dir = out_dir / "sprite-frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    cmd = (
        ffmpeg.input(str(src), **SAFE_INPUT_OPTIONS)[str(info.video_stream_index)]
        .filter("fps", fps=f"{wanted}/{duration:.6f}" if duration else 1)
        .filter("scale", tile_width, tile_height)
        .filter("setsar", 1)
        .output(str(frames_dir / "%05d.bmp"), vframes=wanted)
        .compile(cmd="ffmpeg")
    )
    cmd[1:1] = QUIET_ARGS
    run_ffmpeg(cmd, timeout=max(120.0, duration), what="The thumbnail sprite")
    frames = sorted(frames_dir.glob("*.bmp"))[:wanted]
    if not frames:
        raise ProcessingError("No frames could be taken from the video for its thumbnails.")
    tiles = len(frames)
    interval = duration / tiles if duration else 1.0
    cols = min(columns, tiles)
    rows = math.ceil(tiles / cols)
    sheet = Image.new("RGB", (cols * tile_width, rows * tile_height))
    cues = ["WEBVTT", ""]
    for i, frame in enumerate(frames):
        x, y = (i % cols) * tile_width, (i // cols) * tile_height
        with Image.open(frame) as tile:
            sheet.paste(tile.convert("RGB"), (x, y))
        end = duration if i == tiles - 1 else (i + 1) * interval
        cues += [
            f"{_vtt_time(i * interval)} --> {_vtt_time(end)}",
            f"sprite.jpg#xywh={x},{y},{tile_width},{tile_height}",
            "",
        ]
        frame.unlink()
    frames_dir.rmdir()
    sprite_path = out_dir / "sprite.jpg"
    sheet.save(sprite_path, "JPEG", quality=75, optimize=True)
    vtt_path = out_dir / "sprite.vtt"
    vtt_path.write_text("\n".join(cues))
    return Sprite(
        image=ImageFile(sprite_path, sheet.width, sheet.height, sprite_path.stat().st_size),
        vtt=vtt_path,
        tiles=tiles,
        tile_width=tile_width,
        tile_height=tile_height,
        interval=interval,
    )


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    h, rest = divmod(millis, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
