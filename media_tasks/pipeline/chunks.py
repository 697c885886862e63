"""Chunked encoding of long sources: cut the picture into spans on the keyframe grid, encode
each span's ladder separately (on any worker), then join the pieces per rung by stream copy
into each rung's CMAF file. The sound is the lead's (processing.chunked).

The spans are whole numbers of GOPs, so the keyframes land where a whole-file encode
puts them and the fragments of a chunked encode cut at the same instants. Within a
GOP or two of the planned cut, each cut moves to the grid point just after a *source*
keyframe: a chunk must decode from the keyframe before its first frame, and with a
long-GOP source (x264's default is 250 frames) that pre-roll would otherwise cost up to
a whole GOP of decoding per chunk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import ffmpeg

from .exceptions import ProcessingError
from .probe import MediaInfo, ffprobe_json
from .runner import QUIET_ARGS, run_ffmpeg
from .tee import GOP_SECONDS, cmaf_tee
from .video import Rung, Span, keyframe_interval

# The concat demuxer reads a list of our own files.
_CONCAT_INPUT = {"f": "concat", "safe": 0, "protocol_whitelist": "file", "format_whitelist": "concat,mov,mp4"}


def plan_spans(
    duration: float, chunk_seconds: float, start_time: float = 0.0, frame_rate: float | None = None
) -> list[Span]:
    """Spans of about `chunk_seconds` (rounded to whole GOPs of the ladder at `frame_rate`)
    covering the picture; the last runs to the end, and a short tail is folded into the
    span before it."""
    gop = keyframe_interval(frame_rate)
    length = max(1, round(chunk_seconds / gop)) * gop
    count = max(1, math.floor(duration / length))
    if duration - count * length > length / 2:
        count += 1
    return [
        Span(start=start_time + i * length, end=None if i == count - 1 else start_time + (i + 1) * length)
        for i in range(count)
    ]


def _reach(spans: Sequence[Span], gop: float) -> float:
    """How far a cut may move: two GOPs at most, and never so far that a span could vanish."""
    if len(spans) < 2:
        return 0.0
    gops = round((spans[1].start - spans[0].start) / gop)
    return min(2, (gops - 1) // 2) * gop


def snap_cut(cut: float, keyframes: Sequence[float], reach: float, gop: float = GOP_SECONDS) -> Span:
    """The grid point (every `gop` s) within `reach` of `cut` with the least pre-roll plus
    distance moved, as the start of a span with `seek` at the source keyframe before it. Moving is charged second
    for second because it unbalances the chunks: a cut moves only to save more decoding
    than it shifts. Only points with a known keyframe before them are candidates; with
    none, the cut stays and its span decodes from the start (slow, never wrong)."""
    steps = round(reach / gop)
    best: tuple[float, float, Span] | None = None
    for k in range(-steps, steps + 1):
        point = cut + k * gop
        before = [t for t in keyframes if t <= point + 1e-6]
        if not before:
            continue
        rank = (round(point - before[-1] + abs(k) * gop, 3), abs(k))
        if best is None or rank < best[:2]:
            best = (*rank, Span(start=point, seek=before[-1]))
    return best[2] if best else Span(start=cut)


def source_keyframes(path: Path, cut: float, reach: float) -> list[float]:
    """The source's keyframe times around `cut`, from packet flags (no decoding).

    ffprobe seeks to a little before `cut - reach` and reads on to `cut + reach`. In an MP4 or
    Matroska file the seek lands on a keyframe; MPEG-TS has no index and lands on whatever
    packet is there, so the window widens until it holds a keyframe."""
    for lead in (GOP_SECONDS, 8 * GOP_SECONDS, 32 * GOP_SECONDS):
        interval = f"{max(0.0, cut - reach - lead):.6f}%{cut + reach + 0.1:.6f}"
        data = ffprobe_json(
            path, "-select_streams", "v:0", "-read_intervals", interval, "-show_entries", "packet=pts_time,flags"
        )
        found = set()
        for packet in data.get("packets") or []:
            try:
                if "K" in packet.get("flags", ""):
                    found.add(float(packet["pts_time"]))
            except (KeyError, ValueError):
                continue
        if any(t <= cut + reach for t in found) or cut - reach - lead <= 0:
            return sorted(found)
    return []


def plan_chunks(path: Path, info: MediaInfo, chunk_seconds: float, index: int | None = None) -> list[Span]:
    """The spans of `path`'s chunked encode, cuts moved to suit its keyframes (see the module
    docstring). With `index`, only that span is exact: a chunk's worker needs no other. Each
    cut is placed from its own stretch of the file alone, so every worker agrees on it."""
    spans = plan_spans(info.duration or 0.0, chunk_seconds, picture_start(path, info), info.frame_rate)
    gop = keyframe_interval(info.frame_rate)
    reach = _reach(spans, gop)
    wanted = range(1, len(spans)) if index is None else [i for i in (index, index + 1) if 0 < i < len(spans)]
    cuts = {i: snap_cut(spans[i].start, source_keyframes(path, spans[i].start, reach), reach, gop) for i in wanted}
    planned = []
    for i, span in enumerate(spans):
        start = cuts.get(i, span)
        end = cuts[i + 1].start if i + 1 in cuts else span.end
        planned.append(Span(start=start.start, end=end, seek=start.seek, first=i == 0))
    return planned


def picture_start(path: Path, info: MediaInfo) -> float:
    """The picture's first timestamp: spans are cut on the source's own clock. The probe
    records it; for a probe stored before it did, ffprobe reads it again."""
    if info.start_time is not None:
        return info.start_time
    data = ffprobe_json(path, "-select_streams", "v:0", "-show_entries", "stream=start_time")
    streams = data.get("streams") or [{}]
    try:
        return float(streams[0].get("start_time") or 0.0)
    except ValueError:
        return 0.0


def join(
    rungs: Sequence[Rung], pieces: dict[str, Sequence[Path]], out_dir: Path, *, timeout: float | None = None
) -> dict[str, Path]:
    """Join each rung's encoded spans (`pieces`: rung name → files in order) by stream copy into
    the rung's CMAF file under `out_dir` (identity.py's layout): one ffmpeg for all rungs.
    Returns each stream's directory → that directory under `out_dir`, as encode_ladder does."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if not rungs:  # the ladder kept only the lead, encoded whole
        return {}
    streams = []
    for rung in rungs:
        if not pieces.get(rung.name):
            raise ProcessingError(f"No encoded chunks of the {rung.name} rendition to join.")
        listing = out_dir / f"{rung.name}.txt"
        listing.write_text("".join(f"file '{p.resolve()}'\n" for p in pieces[rung.name]))
        streams.append(ffmpeg.input(str(listing.resolve()), **_CONCAT_INPUT)["v:0"])
        (out_dir / rung.stream.directory).mkdir(parents=True, exist_ok=True)
    spec = cmaf_tee([rung.stream for rung in rungs], None, out_dir)
    cmd = ffmpeg.output(*streams, spec, c="copy", map_metadata=-1, f="tee").compile(cmd="ffmpeg")
    cmd[1:1] = QUIET_ARGS
    run_ffmpeg(cmd, timeout=timeout, what="Joining the chunks", cwd=out_dir)
    return {rung.stream.directory: out_dir / rung.stream.directory for rung in rungs}
