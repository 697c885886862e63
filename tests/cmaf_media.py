"""Tiny CMAF tracks made by ffmpeg as the encode makes them (a video rung as one fragmented file,
the sound as fMP4 segments from the hls muxer), indexed by pipeline.fmp4, for the download tests."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from media_tasks.pipeline import fmp4
from media_tasks.pipeline.fmp4 import TrackIndex

FFMPEG = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
VIDEO_DIR = "video/180p-h264"
AUDIO_DIR = "audio/128k-aac"
SIZE, RATE = "320x180", 30


@dataclass(frozen=True)
class Tracks:
    root: Path  # the stream area: VIDEO_DIR and AUDIO_DIR under it
    video: TrackIndex
    audio: TrackIndex | None

    def init(self, directory: str, index: TrackIndex) -> bytes:
        return (self.root / directory / index.init_file).read_bytes()[: index.init_size]


def make_tracks(root: Path, *, duration: float = 6.0, audio: bool = True) -> Tracks:
    """A video track with B-frames (keyframes every 2 s, one fragment each) and, with `audio`,
    an AAC track in ~2 s segments, under `root`."""
    (root / VIDEO_DIR).mkdir(parents=True)
    video_file = root / VIDEO_DIR / "180p-h264.mp4"
    source = f"testsrc2=size={SIZE}:rate={RATE}:duration={duration}"
    subprocess.run(
        [*FFMPEG, "-f", "lavfi", "-i", source, "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-f", "mp4",
         "-movflags", "+frag_keyframe+empty_moov+default_base_moof+cmaf", str(video_file)],
        check=True,
    )  # fmt: skip
    sound = None
    if audio:
        directory = root / AUDIO_DIR
        directory.mkdir(parents=True)
        subprocess.run(
            [*FFMPEG, "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}",
             "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-f", "hls", "-hls_time", "2",
             "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
             "-hls_segment_filename", str(directory / "seg_%05d.m4s"), "-hls_playlist_type", "vod",
             str(directory / "index.m3u8")],
            check=True,
        )  # fmt: skip
        segments = sorted(p.name for p in directory.glob("seg_*.m4s"))
        sound = fmp4.index_segments(directory, segments)
    return Tracks(root, fmp4.index_single_file(video_file), sound)
