"""The tee muxer's specs that write every stream of the ladder once, into identity.py's layout,
and the timing of the streams' fragments and segments."""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path

from .identity import INIT, SEGMENT_PATTERN, Stream, TrackKind

GOP_SECONDS = 2  # keyframes every 2 s: HLS segments and chunk cuts fall on them
# HLS is written as an EVENT playlist that grows while the encode runs (a player may start on it),
# made VOD at the end (streams.write_manifests). Its first segment lasts HLS_FIRST_SEGMENT_SECONDS, so
# that it is out about a second after the start. ffmpeg 5.1 applies `hls_init_time` to every
# segment of an EVENT playlist (its list size is forced to 0: measured), cutting at the first
# keyframe past it, so the later segments last one GOP, 2 s, rather than 4.
HLS_FIRST_SEGMENT_SECONDS = 1
HLS_SEGMENT_SECONDS = GOP_SECONDS

# Names inside a tee muxer spec, where `:`, `|`, `[`, `]`, backslashes and quotes would need two
# levels of escaping: ffmpeg runs in the output directory and sees only short relative names.
_TEE_SAFE_NAME = re.compile(r"^[A-Za-z0-9_./%-]+$")
# One CMAF file, a fragment per keyframe (0 s, 1 s, then every GOP), each fragment's offsets from
# its own moof (default_base_moof): what HLS byte ranges and a DASH SegmentList address.
CMAF_MOVFLAGS = "+frag_keyframe+empty_moov+default_base_moof+cmaf"


def _safe(*names: str) -> None:
    for name in names:
        if not _TEE_SAFE_NAME.match(name):
            raise ValueError(f"unsafe name for the tee muxer: {name!r}")


def piece_slave(mp4: Path, cwd: Path, select: int) -> str:
    """A chunk's piece of one rung in a tee muxer spec (https://ffmpeg.org/ffmpeg-formats.html#tee-1):
    a plain MP4 of that span's picture, which the join reads back."""
    name = os.path.relpath(mp4, cwd)
    _safe(name)
    return f"[f=mp4:select={select}:onfail=abort]{name}"


def stream_slave(stream: Stream, select: int, out_dir: Path, *, segmented: bool) -> str:
    """One stream of the CMAF layout (identity.py) in a tee muxer spec, for an ffmpeg running in
    `out_dir`: one file, or (`segmented`: the streams published while they are encoded) an EVENT
    playlist of fMP4 segments that grows as they are closed."""
    (out_dir / stream.directory).mkdir(parents=True, exist_ok=True)
    if not segmented:
        _safe(stream.single_file)
        return f"[f=mp4:select={select}:onfail=abort:movflags={CMAF_MOVFLAGS}]{stream.single_file}"
    segments = f"{stream.directory}/{SEGMENT_PATTERN}"
    _safe(stream.playlist, segments)
    # The sound has no keyframes to wait for: its first segment is as long as the rest.
    first = HLS_FIRST_SEGMENT_SECONDS if stream.kind == TrackKind.VIDEO else HLS_SEGMENT_SECONDS
    return (
        f"[f=hls:select={select}:onfail=abort:hls_time={HLS_SEGMENT_SECONDS}"
        f":hls_init_time={first}:hls_playlist_type=event"
        # temp_file: the playlist is replaced whole (renamed), so a reader never sees half of it.
        f":hls_flags=independent_segments+temp_file:hls_segment_type=fmp4"
        # As the one-file streams: negative composition offsets, no edit list, so that a player
        # that ignores edit lists (MSE) shows the lead's frames at the other rungs' instants.
        f":hls_segment_options=movflags=+cmaf"
        f":hls_fmp4_init_filename={INIT}:hls_segment_filename={segments}]{stream.playlist}"
    )


def cmaf_tee(videos: Sequence[Stream], audio: Stream | None, out_dir: Path, segmented: Collection[Stream] = ()) -> str:
    """The tee muxer's spec for an output whose streams are `videos`' pictures, in order, then the
    sound (`audio`): every stream written once, on its own (CMAF: one media type per track)."""
    slaves = [stream_slave(s, i, out_dir, segmented=s in segmented) for i, s in enumerate(videos)]
    if audio is not None:
        slaves.append(stream_slave(audio, len(videos), out_dir, segmented=audio in segmented))
    return "|".join(slaves)
