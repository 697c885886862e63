"""Poster frame and scrubbing sprite sheet (JPEG + WebVTT) for a video.

Either decoded here from a file (make_poster, make_sprite), or assembled from frames the
ladder encode wrote on the side of its own decode (frame_outputs, thumbnails_from_frames),
which costs the thumbnails stage no decoding at all.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg
from PIL import Image, ImageStat

from .exceptions import ProcessingError
from .images import load_upright
from .probe import SAFE_INPUT_OPTIONS, MediaInfo
from .runner import QUIET_ARGS, run_ffmpeg

POSTER_MAX_SIDE = 1280
# Where to look for a poster, as fractions of the duration: the first is the
# usual 10%, the others are tried only if that frame is (nearly) black.
POSTER_POSITIONS = (0.10, 0.30, 0.50)
# A frame darker or flatter than this reads as "black" in a list of videos.
MIN_POSTER_BRIGHTNESS = 20.0
MIN_POSTER_CONTRAST = 8.0
# `thumbnail` keeps the most representative of this many frames after the position,
# which already steps past most fades and flashes.
THUMBNAIL_FRAMES = 12

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
class Frame:
    """A poster candidate: `name` says where it was taken ("frame-30": at 30% of the duration)."""

    name: str
    image: ImageFile


@dataclass(frozen=True)
class Posters:
    """Every candidate that could be taken, and the one picked as the poster (the owner may
    pick another later)."""

    frames: tuple[Frame, ...]
    chosen: Frame


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


def _grab_frame(src: Path, info: MediaInfo, at: float, size: tuple[int, int], out: Path) -> Path:
    cmd = (
        ffmpeg.input(str(src), ss=f"{at:.3f}", **SAFE_INPUT_OPTIONS)[str(info.video_stream_index)]
        .filter("thumbnail", THUMBNAIL_FRAMES)
        .filter("scale", size[0], size[1])
        .filter("setsar", 1)
        .output(str(out), vframes=1, **{"q:v": 2})
        .compile(cmd="ffmpeg")
    )
    cmd[1:1] = QUIET_ARGS
    run_ffmpeg(cmd, timeout=120, what="The poster frame")
    return out


def frame_name(position: float) -> str:
    """A candidate's name from its place in the duration: 0.3 → "frame-30"."""
    return f"frame-{round(position * 100)}"


def make_poster(src: Path, info: MediaInfo, out_dir: Path, *, max_side: int = POSTER_MAX_SIDE) -> Posters:
    """Candidates at POSTER_POSITIONS (at 0 s only for clips too short for any of them), and the
    first that is not black as the poster."""
    size = _fit(info.width, info.height, max_side)
    duration = info.duration or 0.0
    # BMP: a candidate is read back at once, and PNG's compression is wasted time. The grabs are
    # short ffmpeg runs that mostly wait on their start-up and seek: side by side, they overlap.
    with ThreadPoolExecutor(len(POSTER_POSITIONS), thread_name_prefix="poster") as pool:
        paths = pool.map(
            lambda i: _grab_frame(src, info, duration * POSTER_POSITIONS[i], size, out_dir / f"grab-{i}.bmp"),
            range(len(POSTER_POSITIONS)),
        )
        grabbed = dict(zip(POSTER_POSITIONS, paths, strict=True))
    try:
        if not any(path.exists() for path in grabbed.values()):
            # A clip so short that any seek lands past its only frame.
            grabbed = {0.0: _grab_frame(src, info, 0.0, size, out_dir / "grab-first.bmp")}
        return _save_posters(grabbed, out_dir)
    finally:
        for leftover in out_dir.glob("grab-*.bmp"):
            leftover.unlink()


def grab_frame_at(
    src: Path, info: MediaInfo, at: float, out_path: Path, *, max_side: int = POSTER_MAX_SIDE
) -> ImageFile:
    """The frame shown at `at` seconds (the moment the owner picked), as a poster-sized JPEG.

    The exact frame, not `thumbnail`'s pick near it: the owner chose it. ProcessingError for a
    time past the end."""
    duration = info.duration or 0.0
    if at < 0 or (duration and at > duration):
        raise ProcessingError(f"{at:.1f} s is not within the video ({duration:.1f} s long).")
    grabbed = out_path.with_suffix(".bmp")
    cmd = (
        ffmpeg.input(str(src), ss=f"{at:.3f}", **SAFE_INPUT_OPTIONS)[str(info.video_stream_index)]
        .filter("scale", *_fit(info.width, info.height, max_side))
        .filter("setsar", 1)
        .output(str(grabbed), vframes=1)
        .compile(cmd="ffmpeg")
    )
    cmd[1:1] = QUIET_ARGS
    run_ffmpeg(cmd, timeout=120, what="The poster frame")
    if not grabbed.exists():  # the last moments of a stream whose last frame comes earlier
        raise ProcessingError(f"No frame could be taken at {at:.1f} s.")
    try:
        return _save_jpeg(grabbed, out_path)
    finally:
        grabbed.unlink()


def poster_from_image(src: Path, out_path: Path, *, max_pixels: int, max_side: int = POSTER_MAX_SIDE) -> ImageFile:
    """A picture the owner uploaded as the poster: upright, sRGB, no metadata, no side over
    `max_side`, a JPEG (checked and limited as uploaded images are: pipeline.images)."""
    picture = load_upright(src, widest=max_side, max_pixels=max_pixels)
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if picture.mode == "RGBA":  # JPEG has no transparency: what shows through is black, as around a video
        background = Image.new("RGB", picture.size)
        background.paste(picture, mask=picture.getchannel("A"))
        picture = background
    picture.save(out_path, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return ImageFile(out_path, picture.width, picture.height, out_path.stat().st_size)


def _pick_poster(candidates: Iterable[Path]) -> Path | None:
    """The first candidate that is neither (nearly) black nor flat, else the brightest; None
    when no candidate was written."""
    best: tuple[float, Path] | None = None
    for candidate in candidates:
        if not candidate.exists():
            continue
        with Image.open(candidate) as im:
            stat = ImageStat.Stat(im.convert("L"))
        brightness, contrast = stat.mean[0], stat.stddev[0]
        if best is None or brightness > best[0]:
            best = (brightness, candidate)
        if brightness >= MIN_POSTER_BRIGHTNESS and contrast >= MIN_POSTER_CONTRAST:
            return candidate
    return best[1] if best else None


def _save_posters(grabbed: dict[float, Path], out_dir: Path) -> Posters:
    """Each candidate written (position → file) saved as a JPEG frame; the picked one is the poster."""
    best = _pick_poster(grabbed.values())
    if best is None:
        raise ProcessingError("No frame could be taken from the video for its poster.")
    frames, chosen = [], None
    for position, path in grabbed.items():
        if not path.exists():
            continue
        frame = Frame(frame_name(position), _save_jpeg(path, out_dir / f"{frame_name(position)}.jpg"))
        frames.append(frame)
        chosen = frame if path == best else chosen
    return Posters(frames=tuple(frames), chosen=chosen or frames[0])


def _save_jpeg(frame: Path, out_path: Path) -> ImageFile:
    with Image.open(frame) as im:
        im.convert("RGB").save(out_path, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        width, height = im.size
    return ImageFile(out_path, width, height, out_path.stat().st_size)


def _sprite_plan(info: MediaInfo, tile_width: int, max_tiles: int) -> tuple[int, int]:
    """How many tiles (one per MIN_TILE_SECONDS, at most max_tiles) and how tall each is."""
    wanted = max(1, min(max_tiles, math.floor((info.duration or 0.0) / MIN_TILE_SECONDS)))
    return wanted, max(2, round(tile_width * info.height / info.width / 2) * 2)


def _tile_rate(info: MediaInfo, wanted: int) -> str | int:
    return f"{wanted}/{info.duration:.6f}" if info.duration else 1


def make_sprite(
    src: Path,
    info: MediaInfo,
    out_dir: Path,
    *,
    tile_width: int = TILE_WIDTH,
    columns: int = SPRITE_COLUMNS,
    max_tiles: int = MAX_TILES,
) -> Sprite:
    """Evenly spaced tiles in one JPEG grid, and a WebVTT file mapping times to tiles."""
    wanted, tile_height = _sprite_plan(info, tile_width, max_tiles)
    frames_dir = out_dir / "sprite-frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    cmd = (
        ffmpeg.input(str(src), **SAFE_INPUT_OPTIONS)[str(info.video_stream_index)]
        .filter("fps", fps=_tile_rate(info, wanted))
        .filter("scale", tile_width, tile_height)
        .filter("setsar", 1)
        .output(str(frames_dir / "%05d.bmp"), vframes=wanted)
        .compile(cmd="ffmpeg")
    )
    cmd[1:1] = QUIET_ARGS
    run_ffmpeg(cmd, timeout=max(120.0, info.duration or 0.0), what="The thumbnail sprite")
    try:
        return _assemble_sprite(sorted(frames_dir.glob("*.bmp"))[:wanted], info.duration or 0.0, out_dir, columns)
    finally:
        for frame in frames_dir.glob("*.bmp"):
            frame.unlink()
        frames_dir.rmdir()


def _assemble_sprite(frames: Sequence[Path], duration: float, out_dir: Path, columns: int) -> Sprite:
    """The tiles, in time order, pasted into one grid, and the WebVTT file over it.

    The VTT cues point at `sprite.jpg#xywh=x,y,w,h` (the convention of video.js,
    Plyr and JW Player thumbnail tracks), relative to the VTT file.
    """
    if not frames:
        raise ProcessingError("No frames could be taken from the video for its thumbnails.")
    with Image.open(frames[0]) as first:
        tile_width, tile_height = first.size
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


# --- From frames the ladder encode wrote -------------------------------------------------

# The poster candidates the encode writes: POSTER_POSITIONS, then 0 s for clips too short
# for the others (make_poster grabs that one only when none of the others exists).
_ENCODE_CANDIDATES = (*POSTER_POSITIONS, 0.0)
# How many copies of the decoded picture frame_outputs takes: one per poster candidate,
# one for the sprite tiles.
FRAME_BRANCHES = len(_ENCODE_CANDIDATES) + 1


def _candidate_name(index: int, frame: int | str = 2) -> str:
    """Candidate `index`'s file: its first frame (1) is the primer, its second (2) the candidate."""
    return f"poster-{index}-{frame}.bmp"


def frame_outputs(branches: Sequence[Any], info: MediaInfo, frames_dir: Path, cwd: Path) -> list[Any]:
    """ffmpeg outputs that write the poster candidates and the sprite tiles into `frames_dir`,
    from FRAME_BRANCHES copies (`split`) of a whole file's decoded, upright picture.

    Added to the ladder encode, they cost a few scaled frames instead of a second decode.
    Every branch ends by itself (`trim`), because a `-frames` limit on one output of a
    `split` can stall the others in ffmpeg 5.1. A branch that starts past the end writes
    no candidate, as a seek past the end does.

    Each candidate's output first writes a primer, the source's first frame, at once: ffmpeg
    5.1 reports no progress until every output has had a frame, and the 50% candidate's own
    frame comes halfway through the encode.
    """
    frames_dir.mkdir(parents=True, exist_ok=True)
    folder = os.path.relpath(frames_dir, cwd)
    size = _fit(info.width, info.height, POSTER_MAX_SIDE)
    outputs = []
    for i, position in enumerate(_ENCODE_CANDIDATES):
        copies = branches[i].filter_multi_output("split", 2)
        picture = copies.stream(1)
        if position:
            picture = picture.filter("trim", start=f"{(info.duration or 0.0) * position:.3f}")
        candidate = picture.filter("trim", end_frame=THUMBNAIL_FRAMES).filter("thumbnail", THUMBNAIL_FRAMES)
        primed = ffmpeg.concat(copies.stream(0).filter("trim", end_frame=1), candidate)
        scaled = primed.filter("scale", size[0], size[1]).filter("setsar", 1)
        outputs.append(scaled.output(f"{folder}/{_candidate_name(i, '%d')}", fps_mode="passthrough"))
    wanted, tile_height = _sprite_plan(info, TILE_WIDTH, MAX_TILES)
    tiles = (
        branches[-1]
        .filter("fps", fps=_tile_rate(info, wanted))
        .filter("trim", end_frame=wanted)
        .filter("scale", TILE_WIDTH, tile_height)
        .filter("setsar", 1)
    )
    outputs.append(tiles.output(f"{folder}/tile-%05d.bmp", fps_mode="passthrough"))
    return outputs


def thumbnails_from_frames(frames_dir: Path, info: MediaInfo, out_dir: Path) -> tuple[Posters, Sprite]:
    """The poster candidates and the sprite from what frame_outputs wrote, with the same choices
    as make_poster and make_sprite (the 0 s candidate only when no other was written)."""
    grabbed = {position: frames_dir / _candidate_name(i) for i, position in enumerate(_ENCODE_CANDIDATES)}
    if any(path.exists() for position, path in grabbed.items() if position):
        grabbed.pop(0.0)
    posters = _save_posters(grabbed, out_dir)
    sprite = _assemble_sprite(sorted(frames_dir.glob("tile-*.bmp")), info.duration or 0.0, out_dir, SPRITE_COLUMNS)
    return posters, sprite


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    h, rest = divmod(millis, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"
