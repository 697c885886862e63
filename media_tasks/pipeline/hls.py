"""The HLS master playlist over the rungs' playlists, which the ladder's encode (or the join)
writes beside each MP4 from the same packets (video.rendition_slaves)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .exceptions import ProcessingError
from .video import VideoFile


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
        if not playlist.exists() or "#EXT-X-ENDLIST" not in playlist.read_text():
            raise ProcessingError(f"The {video.name} HLS playlist was not written.")
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
