"""The pictures of a sound alone: its waveform (the poster in lists and on its page) and the cover
art its tags carry. The waveform is drawn here from the sound decoded to a low rate through a pipe,
a column at a time, so memory stays flat however long the source (ffmpeg's showwavespic keeps every
decoded frame until the end: hours of sound in memory)."""

from __future__ import annotations

import array
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from .exceptions import ProcessingError
from .probe import MediaInfo, safe_input_args
from .runner import QUIET_ARGS, run_ffmpeg
from .thumbnails import POSTER_MAX_SIDE, ImageFile

WAVEFORM_SIZE = (1280, 360)
# Mono at this rate is enough for the outline of a column that spans a few milliseconds at least.
_RATE = 8000
_BACKGROUND = (17, 24, 39)
_PEAK = (96, 165, 250)
_RMS = (191, 219, 254)
WAVEFORM_NAME = "waveform.png"
COVER_NAME = "cover.jpg"


@dataclass(frozen=True)
class Columns:
    """Each column's loudest sample and its RMS, as fractions of full scale."""

    peaks: list[float]
    rms: list[float]


def sound_columns(src: Path, info: MediaInfo, columns: int, *, timeout: float) -> Columns:
    """The sound of `src` read as `columns` equal stretches (mono, _RATE Hz, 16-bit)."""
    per_column = max(1, round((info.duration or 1.0) * _RATE / columns))
    cmd = [
        *("ffmpeg", *QUIET_ARGS, *safe_input_args(src)),
        *("-map", f"0:{info.audio_stream_index}", "-ac", "1", "-ar", str(_RATE), "-f", "s16le", "-"),
    ]
    peaks: list[float] = []
    rms: list[float] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        while block := proc.stdout.read(per_column * 2):  # type: ignore[union-attr]
            samples = array.array("h", block[: len(block) - len(block) % 2])
            if sys.byteorder == "big":
                samples.byteswap()
            if samples:
                peaks.append(max(max(samples), -min(samples)) / 32768)
                rms.append((sum(s * s for s in samples) / len(samples)) ** 0.5 / 32768)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            raise ProcessingError("Reading the sound for its waveform took too long.") from exc
    if proc.returncode != 0 or not peaks:
        raise ProcessingError(f"The sound could not be read for its waveform: {err.decode(errors='replace')[-300:]}")
    return Columns(_fit_columns(peaks, columns), _fit_columns(rms, columns))


def _fit_columns(values: list[float], columns: int) -> list[float]:
    """Exactly `columns` values: the last short block merged, or the list stretched when the
    sound is shorter than one sample a column."""
    if len(values) > columns:
        values = [*values[: columns - 1], max(values[columns - 1 :])]
    return [values[i * len(values) // columns] for i in range(columns)]


def draw_waveform(columns: Columns, out: Path, size: tuple[int, int] = WAVEFORM_SIZE) -> ImageFile:
    """The columns as bars mirrored about the middle, the peak's outline and the RMS inside it,
    scaled to the loudest peak so that a quiet recording still shows its shape (silence: a line)."""
    width, height = size
    image = Image.new("RGB", size, _BACKGROUND)
    draw = ImageDraw.Draw(image)
    middle, loudest = height / 2, max(columns.peaks) or 1.0
    for x in range(width):
        column = x * len(columns.peaks) // width
        for value, colour in ((columns.peaks[column], _PEAK), (columns.rms[column], _RMS)):
            reach = max(0.5, value / loudest * (middle - 2))
            draw.line([(x, middle - reach), (x, middle + reach)], fill=colour)
    image.save(out, "PNG", optimize=True)
    return ImageFile(out, width, height, out.stat().st_size)


def make_waveform(src: Path, info: MediaInfo, out_dir: Path, *, timeout: float) -> ImageFile:
    """The waveform of `src` as `out_dir/waveform.png`."""
    return draw_waveform(sound_columns(src, info, WAVEFORM_SIZE[0], timeout=timeout), out_dir / WAVEFORM_NAME)


def extract_cover(src: Path, info: MediaInfo, out_dir: Path, *, timeout: float = 120) -> ImageFile | None:
    """The cover art the tags carry, decoded and written again as `out_dir/cover.jpg` (no side over
    POSTER_MAX_SIDE, no metadata); None when there is none. A cover that cannot be decoded costs
    only the cover."""
    if info.cover_stream_index is None:
        return None
    out = out_dir / COVER_NAME
    fit = f"min({POSTER_MAX_SIDE}/max(iw\\,ih)\\,1)"
    cmd = [
        *("ffmpeg", *QUIET_ARGS, *safe_input_args(src)),
        *("-map", f"0:{info.cover_stream_index}", "-frames:v", "1", "-map_metadata", "-1"),
        *("-vf", f"scale=trunc(iw*{fit}/2)*2:trunc(ih*{fit}/2)*2,format=yuvj420p", "-q:v", "3", str(out)),
    ]
    try:
        run_ffmpeg(cmd, timeout=timeout, what="The cover art")
    except ProcessingError:
        return None
    if not out.exists() or out.stat().st_size == 0:
        return None
    with Image.open(out) as im:
        width, height = im.size
    return ImageFile(out, width, height, out.stat().st_size)


__all__ = ["COVER_NAME", "WAVEFORM_NAME", "Columns", "draw_waveform", "extract_cover", "make_waveform"]
