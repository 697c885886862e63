"""The HLS master playlist over the rungs' playlists, which the ladder's encode (or the join)
writes beside each MP4 from the same packets (video.rendition_slaves).

The rungs' playlists grow while the encode runs (EVENT playlists): early_master and
playlist_segments let a video be played before its encode ends; write_hls_master makes them
final (VOD) once it has."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .exceptions import ProcessingError
from .video import Rung, VideoFile

PLAYLIST = "index.m3u8"  # each rung's, in a directory named after it
EVENT_TYPE = "#EXT-X-PLAYLIST-TYPE:EVENT"
VOD_TYPE = "#EXT-X-PLAYLIST-TYPE:VOD"
ENDLIST = "#EXT-X-ENDLIST"


@dataclass(frozen=True)
class HlsPackage:
    master: Path
    directory: Path
    variants: dict[str, Path]


def write_hls_master(videos: Sequence[VideoFile], hls_dir: Path) -> HlsPackage:
    """The master playlist over the rungs' playlists (`hls_dir/<rung>/index.m3u8`), written by the
    encode (or the join) beside each MP4.

    Every rung has a keyframe every GOP_SECONDS, so the segments of all rungs start at the
    same instants and players can switch between them.
    """
    variants: dict[str, Path] = {}
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for video in videos:
        playlist = hls_dir / video.name / "index.m3u8"
        if not playlist.exists() or ENDLIST not in playlist.read_text():
            raise ProcessingError(f"The {video.name} HLS playlist was not written.")
        finalize_vod(playlist)
        peak, average = _segment_bitrates(playlist)
        variants[video.name] = playlist
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},"
            f'RESOLUTION={video.width}x{video.height},CODECS="{video.codecs}"'
        )
        lines.append(f"{video.name}/index.m3u8")
    master = hls_dir / "master.m3u8"
    master.write_text("\n".join(lines) + "\n")
    return HlsPackage(master=master, directory=hls_dir, variants=variants)


def _segment_bitrates(playlist: Path) -> tuple[int, int]:
    """Peak and average bits per second over the segments, as HLS's BANDWIDTH wants."""
    peak = 0.0
    total_bits = 0
    total_seconds = 0.0
    duration = None
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0])
        elif line and not line.startswith("#") and duration:
            bits = (playlist.parent / line).stat().st_size * 8
            peak = max(peak, bits / duration)
            total_bits += bits
            total_seconds += duration
            duration = None
    average = total_bits / total_seconds if total_seconds else 0
    return math.ceil(peak), math.ceil(average)


def finalize_vod(playlist: Path) -> None:
    """Make a finished EVENT playlist a VOD one: the same segments, and a player that loaded it
    while it grew reads the end (#EXT-X-ENDLIST) and stops reloading."""
    text = playlist.read_text()
    if EVENT_TYPE in text:
        playlist.write_text(text.replace(EVENT_TYPE, VOD_TYPE))


def playlist_segments(text: str) -> list[str]:
    """The segments a rung's playlist names, in order. ffmpeg names a segment once it is closed,
    and replaces the playlist whole (hls_flags temp_file), so each of them is complete."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def early_master(rungs: Sequence[Rung]) -> str:
    """The master playlist over `rungs` while they are being encoded: their sizes, and their peak
    rates as planned (the measured ones are known only at the end, and written then)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rung in rungs:
        bandwidth = (rung.maxrate_kbps + rung.audio_kbps) * 1000
        lines.append(f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={rung.width}x{rung.height}")
        lines.append(f"{rung.name}/index.m3u8")
    return "\n".join(lines) + "\n"
