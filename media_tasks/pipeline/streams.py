"""An encode's streams as players and downloads read them: each stream indexed from its own
fragments (fmp4.py), then its HLS media playlist, the master, the DASH manifest and each rung's
MP4 download plan, written into the local tree that mirrors the stream area (identity.py), so
storing it is uploading that tree."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import dash, fmp4, hls, progressive
from .identity import MASTER, MPD, Stream, TrackKind
from .integrity import declared_duration, require_complete
from .probe import MediaInfo
from .renditions import VideoFile
from .video import Rung, encode_ladder


@dataclass(frozen=True)
class EncodedStream:
    stream: Stream
    root: Path  # the local stream area the stream's directory is in
    index: fmp4.TrackIndex

    @property
    def directory(self) -> Path:
        return self.root / self.stream.directory

    def media_files(self) -> list[Path]:
        """The files a player reads, init first: one CMAF file, or the init and the segments."""
        names = dict.fromkeys([self.index.init_file, *(f.file for f in self.index.fragments)])
        return [self.directory / name for name in names]

    def local_file(self) -> Path:
        """The stream as one local fMP4 file any ffmpeg reads (segments joined: init + media)."""
        if self.index.single_file:
            return self.directory / self.index.init_file
        joined = self.root / "joined" / f"{self.stream.kind}-{self.stream.slug}.mp4"
        joined.parent.mkdir(parents=True, exist_ok=True)
        with joined.open("wb") as out:
            for path in self.media_files():
                out.write(path.read_bytes())
        return joined

    def init_bytes(self) -> bytes:
        with (self.directory / self.index.init_file).open("rb") as fh:
            return fh.read(self.index.init_size)


@dataclass(frozen=True)
class Ladder:
    videos: list[EncodedStream]  # largest first
    audio: EncodedStream | None

    def describe(self) -> list[VideoFile]:
        """Each rung as the rows record it: its picture's size and rate, played with the sound."""
        return [_describe(v, self.audio) for v in self.videos]


def _describe(video: EncodedStream, audio: EncodedStream | None) -> VideoFile:
    index = video.index
    size = sum(path.stat().st_size for path in video.media_files())
    duration = index.duration_s
    return VideoFile(
        name=video.stream.rung,
        path=video.local_file(),
        width=index.width,
        height=index.height,
        duration=duration,
        bitrate=int(size * 8 / duration) if duration else 0,
        size_bytes=size,
        video_codec=video.stream.codec,
        audio_codec=audio.stream.codec if audio else None,
        codecs=",".join([index.codec, *([audio.index.codec] if audio else [])]),
    )


def index_stream(root: Path, stream: Stream) -> EncodedStream:
    """A stream the encode wrote under `root`: one CMAF file, or the segments its playlist names."""
    single = root / stream.single_file
    if single.exists():
        return EncodedStream(stream, root, fmp4.index_single_file(single))
    names = hls.playlist_segments((root / stream.playlist).read_text())
    return EncodedStream(stream, root, fmp4.index_segments(root / stream.directory, names))


def index_ladder(root: Path, videos: Sequence[Stream], audio: Stream | None) -> Ladder:
    return Ladder([index_stream(root, s) for s in videos], index_stream(root, audio) if audio else None)


def transcode_ladder(src: Path, info: MediaInfo, rungs: Sequence[Rung], out_dir: Path, **options: Any) -> Ladder:
    """video.encode_ladder (the same options), then every stream indexed and, for a whole file,
    held against the length the source declares (integrity.require_complete)."""
    written = encode_ladder(src, info, rungs, out_dir, **options)
    ladder = ladder_written(out_dir, rungs, written)
    require_complete(declared_duration(info), min(v.index.duration_s for v in ladder.videos))
    return ladder


def ladder_written(root: Path, rungs: Sequence[Rung], written: dict[str, Path]) -> Ladder:
    """The ladder of `rungs` from the streams encode_ladder wrote (its sound, if it wrote one)."""
    audio = next((Stream.parse(name) for name in written if name.startswith(f"{TrackKind.AUDIO}/")), None)
    return index_ladder(root, [rung.stream for rung in rungs], audio)


@dataclass(frozen=True)
class Manifests:
    master: Path
    mpd: Path
    playlists: list[Path]  # each stream's media playlist
    plans: list[Path]  # each rung's download plan


def write_manifests(ladder: Ladder) -> Manifests:
    """Every stream's final (VOD) media playlist, each rung's download plan (a sound alone's: its
    M4A), the DASH manifest and the HLS master, from the streams' own indexes, beside the media in the local tree."""
    streams = [*ladder.videos, *([ladder.audio] if ladder.audio else [])]
    root = streams[0].root
    playlists = []
    for encoded in streams:
        path = root / encoded.stream.playlist
        path.write_text(hls.media_playlist(encoded.index))
        playlists.append(path)
    plans = [_write_plan(video, ladder.audio) for video in ladder.videos]
    if not ladder.videos and ladder.audio:  # a sound alone: its M4A download
        plans = [_write_plan(ladder.audio, None)]
    videos = [(v.stream, v.index) for v in ladder.videos]
    audio = (ladder.audio.stream, ladder.audio.index) if ladder.audio else None
    mpd = root / MPD
    mpd.write_text(dash.write_mpd(videos, audio))
    master = root / MASTER
    master.write_text(hls.master_playlist(videos, audio))
    return Manifests(master=master, mpd=mpd, playlists=playlists, plans=plans)


def _write_plan(video: EncodedStream, audio: EncodedStream | None) -> Path:
    """The download plan of `video` played with `audio` (`video` the sound itself for an M4A)."""
    plan = progressive.download_plan(
        video.index,
        video.init_bytes(),
        audio.index if audio else None,
        audio.init_bytes() if audio else None,
        video_dir=video.stream.directory,
        audio_dir=audio.stream.directory if audio else None,
    )
    path = video.root / video.stream.download_plan
    path.write_text(json.dumps(plan.to_json(), separators=(",", ":")))
    return path
