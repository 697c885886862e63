"""The thumbnails stage: a poster frame and a scrubbing sprite sheet with its WebVTT map; for a
sound alone, its waveform as the poster and the cover art its tags carry."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import shutil
import uuid
from pathlib import Path

from .. import storage
from ..models import Job, Rendition
from ..pipeline import thumbnails as thumbnail_ops
from ..pipeline import waveform as waveform_ops
from ..pipeline.probe import AUDIO, VIDEO, MediaInfo
from .runtime import frames_cache_path, media_info, progress_reporter, record, require_kind, run_stage, source_copy
from .streams import rendition_fetch
from .workflow import Status, ffmpeg_timeout_s


def job_make_thumbnails(*, job_id: uuid.UUID | str, worker: str = "") -> bool:
    """Poster frame and sprite sheet with its WebVTT map."""

    def work(job: Job, workdir: Path) -> None:
        asset = job.asset
        info = media_info(asset)
        if info.kind == AUDIO:
            _sound_pictures(job, info, workdir)
            return
        require_kind(asset, VIDEO)
        report = progress_reporter(job_id, Status.THUMBNAILING)
        out = workdir / "thumbs"
        out.mkdir()
        frames = frames_cache_path(asset.id)
        if frames.is_dir():  # the transcode ran here and kept frames from its decode
            posters, sprite = thumbnail_ops.thumbnails_from_frames(frames, info, out)
        else:
            posters, sprite = _decode_thumbnails(job, info, workdir, out)
        report(0.5)
        files = [*(f.image.path for f in posters.frames), sprite.image.path, sprite.vtt]
        keys = {path.name: storage.asset_key(storage.THUMBS, asset.id, path.name) for path in files}
        storage.upload_files({path: keys[path.name] for path in files})
        _record_posters(job, posters, keys)
        record(
            job,
            Rendition.Kind.SPRITE,
            "sprite",
            keys["sprite.jpg"],
            width=sprite.tile_width,
            height=sprite.tile_height,
            size_bytes=sprite.image.size_bytes,
            codec="jpeg",
        )
        report(1.0)
        shutil.rmtree(frames, ignore_errors=True)

    return run_stage(job_id=job_id, stage=Status.THUMBNAILING, worker=worker, work=work)


def _sound_pictures(job: Job, info: MediaInfo, workdir: Path) -> None:
    """A sound's waveform, recorded as its poster, and its cover art when it has one."""
    out = workdir / "thumbs"
    out.mkdir()
    source = source_copy(job, workdir)
    waveform = waveform_ops.make_waveform(source, info, out, timeout=ffmpeg_timeout_s(info.duration))
    cover = waveform_ops.extract_cover(source, info, out)
    images = {Rendition.Kind.POSTER: (waveform, "png"), **({Rendition.Kind.COVER: (cover, "jpeg")} if cover else {})}
    keys = {kind: storage.asset_key(storage.THUMBS, job.asset_id, im.path.name) for kind, (im, _) in images.items()}
    storage.upload_files({image.path: keys[kind] for kind, (image, _) in images.items()})
    for kind, (image, codec) in images.items():
        sizes = {"width": image.width, "height": image.height, "size_bytes": image.size_bytes}
        record(job, kind, "poster" if kind == Rendition.Kind.POSTER else "cover", keys[kind], codec=codec, **sizes)
    if cover is None:  # a source replaced by one without a cover
        job.asset.renditions.filter(kind=Rendition.Kind.COVER).delete()


def _record_posters(job: Job, posters: thumbnail_ops.Posters, keys: dict[str, str]) -> None:
    """A row per candidate frame, and the poster: the picked frame's file (choosing another later
    points the poster at that one's)."""
    for frame in posters.frames:
        image = frame.image
        fields = {"width": image.width, "height": image.height, "size_bytes": image.size_bytes, "codec": "jpeg"}
        record(job, Rendition.Kind.FRAME, frame.name, keys[image.path.name], **fields)
        if frame == posters.chosen:
            record(job, Rendition.Kind.POSTER, "poster", keys[image.path.name], **fields)
    # A re-encode may take fewer candidates than the encode before it (a shorter cut).
    job.asset.renditions.filter(kind=Rendition.Kind.FRAME).exclude(
        profile__in=[f.name for f in posters.frames]
    ).delete()


def _decode_thumbnails(
    job: Job, info: MediaInfo, workdir: Path, out: Path
) -> tuple[thumbnail_ops.Posters, thumbnail_ops.Sprite]:
    """Poster and sprite decoded from renditions: after a chunked or GPU-decoded transcode,
    or one that ran on another machine."""
    (poster_src, poster_info), (sprite_src, sprite_info) = _thumbnail_sources(job, info, workdir)
    # Two short ffmpeg runs on small renditions: side by side, their start-up costs overlap.
    with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="thumbs") as pool:
        making_poster = pool.submit(thumbnail_ops.make_poster, poster_src, poster_info, out)
        sprite = thumbnail_ops.make_sprite(sprite_src, sprite_info, out)
        return making_poster.result(), sprite


def _thumbnail_sources(job: Job, info: MediaInfo, workdir: Path) -> list[tuple[Path, MediaInfo]]:
    """Where the poster and the sprite are taken from: the smallest renditions that are big enough.

    Decoding the 360p rendition for 160-pixel tiles costs a fraction of decoding the
    source, and the renditions are upright already. Without renditions, the source.
    """
    renditions = sorted(job.asset.renditions.filter(kind=Rendition.Kind.MP4), key=lambda r: r.width * r.height)
    if not renditions:
        source = source_copy(job, workdir)
        return [(source, info), (source, info)]
    poster_w, poster_h = thumbnail_ops.poster_size(info.width, info.height)
    wanted = [
        next((r for r in renditions if r.width >= poster_w and r.height >= poster_h), renditions[-1]),
        next((r for r in renditions if r.width >= thumbnail_ops.TILE_WIDTH), renditions[-1]),
    ]
    paths = {r.storage_key: rendition_fetch(r, workdir / "renditions" / f"{r.profile}.mp4") for r in wanted}
    return [
        (
            paths[r.storage_key],
            dataclasses.replace(info, width=r.width, height=r.height, rotation=0, video_stream_index=0),
        )
        for r in wanted
    ]
