"""An encode's streams stored and recorded (the layout: pipeline/identity.py), and a stored video
stream fetched back as one local file for the stages that decode it (posters, sprite, SSIM)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .. import storage
from ..models import Asset, Job, Rendition
from ..pipeline import hls as hls_ops
from ..pipeline.identity import MASTER, MPD, Stream
from ..pipeline.streams import Ladder, write_manifests
from .runtime import record

logger = logging.getLogger(__name__)


def stream_key(asset_id: object, name: str) -> str:
    """The key of a file of the stream area (`video/720p-h264/index.m3u8`, `master.m3u8`)."""
    return storage.asset_key(storage.HLS, asset_id, name)


def rendition_stream(rendition: Rendition) -> Stream:
    """The stream a video or sound row names (its key is the stream's media playlist)."""
    return Stream.parse(rendition.storage_key.split("/", 2)[2].rsplit("/", 1)[0])


def streams_store(*, job: Job, ladder: Ladder, encoder: str) -> None:
    """The manifests written, then every file uploaded, then the rows.

    Upload everything first and record afterwards: a row never points at a file that is missing
    or half written. The lead and the sound may be played already (early_hls), so the files go in
    the order a player reads them backwards: media, then the media playlists, then the DASH
    manifest and the master last. SSIM is measured after the job is ready (processing.quality).
    """
    asset = job.asset
    manifests = write_manifests(ladder)
    root = manifests.master.parent
    streams = [*ladder.videos, *([ladder.audio] if ladder.audio else [])]
    media = [path for encoded in streams for path in encoded.media_files()]
    storage.upload_files({path: _key(asset, root, path) for path in [*media, *manifests.plans]})
    for path in [*manifests.playlists, manifests.mpd, manifests.master]:
        storage.replace_file(path, _key(asset, root, path))
    _record(
        job, ladder, encoder, stored=sum(p.stat().st_size for p in [*media, *manifests.plans, *manifests.playlists])
    )
    _drop_stale(asset, [encoded.stream for encoded in streams])


def _key(asset: Asset, root: Path, path: Path) -> str:
    return stream_key(asset.id, path.relative_to(root).as_posix())


def _record(job: Job, ladder: Ladder, encoder: str, stored: int) -> None:
    """A row per stream (its key: its media playlist), then the master's and the manifest's."""
    videos = ladder.describe()
    for encoded, video in zip(ladder.videos, videos, strict=True):
        sizes = {"width": video.width, "height": video.height, "bitrate": video.bitrate, "size_bytes": video.size_bytes}
        key = stream_key(job.asset_id, encoded.stream.playlist)
        # A new file: its SSIM and VMAF are to be measured again (by this job's quality task).
        fields = {"codec": video.codecs, "encoder": encoder, "ssim": None, "vmaf": None, **sizes}
        record(job, Rendition.Kind.MP4, encoded.stream.rung, key, **fields)
    if sound := ladder.audio:
        size = sum(path.stat().st_size for path in sound.media_files())
        rate = int(size * 8 / sound.index.duration_s) if sound.index.duration_s else 0
        key = stream_key(job.asset_id, sound.stream.playlist)
        fields = {"width": 0, "height": 0, "bitrate": rate, "size_bytes": size, "codec": sound.index.codec}
        record(job, Rendition.Kind.AUDIO, sound.stream.rung, key, encoder="aac", **fields)
    if videos:
        top = videos[0]
        common = {"width": top.width, "height": top.height, "bitrate": top.bitrate, "codec": top.codecs}
    else:  # a sound alone: the manifests name it alone, and it downloads as one M4A
        common = {key: fields[key] for key in ("width", "height", "bitrate", "codec")}
        plan = json.loads((sound.root / sound.stream.download_plan).read_text())
        m4a = stream_key(job.asset_id, sound.stream.download_plan)
        record(job, Rendition.Kind.M4A, sound.stream.rung, m4a, size_bytes=plan["size"], encoder="aac", **common)
    for kind, profile, name in ((Rendition.Kind.HLS, "master", MASTER), (Rendition.Kind.DASH, "manifest", MPD)):
        record(job, kind, profile, stream_key(job.asset_id, name), size_bytes=stored, encoder=encoder, **common)


def _drop_stale(asset: Asset, kept: list[Stream]) -> None:
    """A re-encode with a shorter ladder leaves streams that no longer exist: drop them, rows first."""
    names = {(s.kind, s.rung) for s in kept}
    kinds = {Rendition.Kind.MP4: "video", Rendition.Kind.AUDIO: "audio"}
    for stale in asset.renditions.filter(kind__in=list(kinds)):
        if (kinds[stale.kind], stale.profile) in names:
            continue
        key = stale.storage_key
        stale.delete()
        if key.startswith(f"{storage.HLS}/"):
            storage.delete_under(key.rsplit("/", 1)[0])
        else:
            storage.delete_key(key)


def rendition_fetch(rendition: Rendition, path: Path) -> Path:
    """A stored video stream as one local fMP4 file at `path`: its CMAF file, or its init segment
    and media segments joined (a valid fMP4 too). Reads the stream's media playlist for the names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if rendition.storage_key.endswith(".mp4"):  # stored before CMAF: one muxed MP4
        storage.download_file(rendition.storage_key, path)
        return path
    directory = rendition.storage_key.rsplit("/", 1)[0]
    names = _playlist_files(storage.read_bytes(rendition.storage_key).decode())
    parts = {f"{directory}/{name}": path.parent / f"{path.name}.part{i}" for i, name in enumerate(names)}
    storage.download_files(parts)
    with path.open("wb") as out:
        for part in parts.values():
            out.write(part.read_bytes())
            part.unlink()
    return path


def _playlist_files(text: str) -> list[str]:
    """The files a media playlist names, the init segment first, each once."""
    init = [line.split('URI="', 1)[1].split('"', 1)[0] for line in text.splitlines() if line.startswith("#EXT-X-MAP")]
    return list(dict.fromkeys([*init, *hls_ops.playlist_segments(text)]))
