"""Tiny CMAF tracks made by ffmpeg as the encode makes them (a video rung as one fragmented file,
the sound as fMP4 segments from the hls muxer), indexed by pipeline.fmp4, for the download tests."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from media_tasks import storage
from media_tasks.pipeline import fmp4
from media_tasks.pipeline.fmp4 import TrackIndex
from media_tasks.pipeline.progressive import DownloadPlan, download_plan

FFMPEG = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
VIDEO_DIR = "video/180p-h264"
AUDIO_DIR = "audio/128k-aac"
PLAN = f"{VIDEO_DIR}/download.json"
SIZE, RATE = "320x180", 30


@dataclass(frozen=True)
class Tracks:
    root: Path  # the stream area: VIDEO_DIR and AUDIO_DIR under it
    video: TrackIndex
    audio: TrackIndex | None

    def init(self, directory: str, index: TrackIndex) -> bytes:
        return (self.root / directory / index.init_file).read_bytes()[: index.init_size]


def make_tracks(root: Path, *, duration: float = 6.0, audio: bool = True, video_segments: bool = False) -> Tracks:
    """A video track with B-frames (keyframes every 2 s, one fragment each): one file, or with
    `video_segments` fMP4 segments as the lead rung is made; with `audio`, an AAC track in ~2 s
    segments; under `root`."""
    source = f"testsrc2=size={SIZE}:rate={RATE}:duration={duration}"
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    encode += ["-g", "60", "-keyint_min", "60", "-sc_threshold", "0"]
    video_file = root / VIDEO_DIR / "180p-h264.mp4"
    if video_segments:
        video = _segmented(root / VIDEO_DIR, ["-f", "lavfi", "-i", source, *encode])
    else:
        video_file.parent.mkdir(parents=True)
        cmaf = ["-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof+cmaf"]
        subprocess.run([*FFMPEG, "-f", "lavfi", "-i", source, *encode, *cmaf, str(video_file)], check=True)
        video = fmp4.index_single_file(video_file)
    sound = None
    if audio:
        tone = f"sine=frequency=440:sample_rate=48000:duration={duration}"
        sound = _segmented(root / AUDIO_DIR, ["-f", "lavfi", "-i", tone, "-c:a", "aac", "-b:a", "128k", "-ac", "2"])
    return Tracks(root, video, sound)


def _segmented(directory: Path, arguments: list[str]) -> TrackIndex:
    """A track written by ffmpeg's hls muxer as init.mp4 + ~2 s fMP4 segments, indexed."""
    directory.mkdir(parents=True)
    hls = ["-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"]
    hls += ["-hls_segment_filename", str(directory / "seg_%05d.m4s"), "-hls_playlist_type", "vod"]
    subprocess.run([*FFMPEG, *arguments, *hls, str(directory / "index.m3u8")], check=True)
    return fmp4.index_segments(directory, sorted(p.name for p in directory.glob("seg_*.m4s")))


def plan_of(tracks: Tracks, *, sound: bool = True) -> DownloadPlan:
    """The download plan of `tracks`' video, with its sound or (`sound` False) without."""
    audio = tracks.audio if sound else None
    return download_plan(
        tracks.video,
        tracks.init(VIDEO_DIR, tracks.video),
        audio,
        tracks.init(AUDIO_DIR, audio) if audio else None,
        video_dir=VIDEO_DIR,
        audio_dir=AUDIO_DIR if audio else None,
    )


def store_download(asset_id, tracks: Tracks, scratch: Path) -> tuple[DownloadPlan, bytes]:
    """Store the tracks' files and the video's download plan (PLAN) in the asset's stream area,
    as the store step does; the plan and the bytes of the MP4 it describes."""
    plan = plan_of(tracks)
    files = {p: p.relative_to(tracks.root).as_posix() for p in tracks.root.rglob("*") if p.is_file()}
    (scratch / "download.json").write_text(json.dumps(plan.to_json()))
    files[scratch / "download.json"] = PLAN
    storage.upload_files({path: storage.asset_key(storage.HLS, asset_id, name) for path, name in files.items()})
    expected = plan.head + b"".join(
        (tracks.root / d / f).read_bytes()[offset : offset + length] for d, f, offset, length in plan.pieces
    )
    return plan, expected
