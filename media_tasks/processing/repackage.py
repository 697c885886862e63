"""An asset stored before CMAF moved to the stream layout (pipeline/identity.py) by remuxing its
old MP4s (pipeline/repackage.py), never re-encoding; its old files deleted once nobody can be
playing them any more.

The old layout: per rung `renditions/<asset>/<rung>.mp4` (picture and sound, faststart) and
`hls/<asset>/<rung>/index.m3u8` + `seg_00000.ts`, under `hls/<asset>/master.m3u8`. The new names
never collide with the old (`hls/<a>/720p/…` against `hls/<a>/video/720p-h264/…`), and the store
uploads the master last, replacing the old one in one step: a player that loaded the old master
keeps reading old files, one that loads it afterwards reads new ones. So the old files stay for
a grace period after the move (`old_files_delete`): what a player that loaded the old master
just before the swap needs to play to the end.

An asset's state is read from what is stored, so a run that stops anywhere is finished by the
next: rows still naming `renditions/` keys are moved (again: every key is overwritten whole);
rows in the new layout with old files still stored have their old files deleted.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .. import storage
from ..models import Asset, Rendition
from ..pipeline import hls as hls_ops
from ..pipeline import repackage as repackage_ops
from ..pipeline.exceptions import ProcessingError
from ..pipeline.identity import MASTER
from ..pipeline.streams import Ladder, index_ladder, write_manifests
from .workflow import ffmpeg_timeout_s

logger = logging.getLogger(__name__)

# The old layout's names: a rung's MP4 in `renditions/<a>/`, a rung's TS directory in `hls/<a>/`.
_OLD_MP4 = re.compile(r"^\d+p\.mp4$")
_OLD_RUNG_DIR = re.compile(r"^\d+p$")
# A player that loaded the old master just before the swap plays the video through, paused a
# little: its length and a minute more, and never longer than this.
GRACE_MARGIN_S = 60
GRACE_MAX_S = 1800
PROBE_TIMEOUT_S = 120


class State:
    MOVED = "moved"  # moved now; its old files wait for the grace period
    WOULD_MOVE = "would move"  # dry run
    MOVED_BEFORE = "moved before"  # by an earlier run that stopped before deleting its old files
    CURRENT = "current"  # in the new layout, no old file left: nothing to do


@dataclass
class RepackageResult:
    asset_id: uuid.UUID
    state: str
    old_bytes: int = 0  # the old files' (deleted once the grace period is over) and the old master's
    new_bytes: int = 0  # the new layout's media and manifests stored (dry run: that it would store)
    moved_at: datetime | None = None  # when the new master was stored
    duration_s: float = 0.0
    old_keys: list[str] = field(default_factory=list)
    old_dirs: list[str] = field(default_factory=list)

    @property
    def freed_bytes(self) -> int:
        return self.old_bytes - self.new_bytes

    @property
    def has_old_files(self) -> bool:
        return bool(self.old_keys or self.old_dirs)


def default_grace_s(duration_s: float) -> float:
    """How long the old files stay after the move when the operator does not say."""
    return min(duration_s + GRACE_MARGIN_S, GRACE_MAX_S)


def in_old_layout(asset: Asset) -> bool:
    return asset.renditions.filter(kind=Rendition.Kind.MP4, storage_key__startswith=f"{storage.RENDITIONS}/").exists()


def asset_repackage(*, asset_id: uuid.UUID | str, workdir: Path, dry_run: bool) -> RepackageResult:
    """Move one asset to the stream layout if it is in the old one: its MP4s downloaded into
    `workdir`, remuxed, the new files checked to play here, stored (the master last) and
    checked in storage. Old files are left for old_files_delete. `dry_run`: the same work in
    `workdir`, nothing stored, no row written; the result says what would be freed."""
    asset = Asset.objects.get(pk=asset_id)
    result = _old_files(asset, RepackageResult(asset.id, State.CURRENT, duration_s=_duration(asset)))
    if not in_old_layout(asset):
        if result.has_old_files:
            result.state, result.moved_at = State.MOVED_BEFORE, _stored_at(stream_key(asset.id, MASTER))
        return result
    master = stream_key(asset.id, MASTER)
    result.old_bytes += storage.size(master) if storage.exists(master) else 0  # replaced by the new one
    try:
        ladder = _remuxed(asset, workdir)
        manifests = write_manifests(ladder)
        _require_plays(manifests.master, ladder, result.duration_s)
        result.new_bytes = sum(p.stat().st_size for p in manifests.master.parent.rglob("*") if p.is_file())
        if dry_run:
            result.state = State.WOULD_MOVE
            return result
        _store(asset, ladder)
        _require_stored(asset.id, manifests.master.parent)
        result.state, result.moved_at = State.MOVED, _stored_at(master)
        logger.info("repackage: %s moved (%d bytes of old files to delete)", asset.id, result.old_bytes)
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def old_files_delete(result: RepackageResult) -> int:
    """Delete the old files of a moved asset (checked again: its rows and its stored master are
    the new layout's). Returns the bytes deleted."""
    asset = Asset.objects.get(pk=result.asset_id)
    if in_old_layout(asset):
        raise ProcessingError("Its rows still name the old files: not deleting them.")
    _require_new_master(asset.id)
    fresh = _old_files(asset, RepackageResult(asset.id, result.state))
    for key in fresh.old_keys:
        storage.delete_key(key)
    for directory in fresh.old_dirs:
        storage.delete_under(directory)
    logger.info("repackage: %s old files deleted (%d bytes)", asset.id, fresh.old_bytes)
    return fresh.old_bytes


def stream_key(asset_id: uuid.UUID | str, name: str) -> str:
    return storage.asset_key(storage.HLS, asset_id, name)


def _duration(asset: Asset) -> float:
    return float((asset.probe or {}).get("duration") or 0.0)


def _old_files(asset: Asset, result: RepackageResult) -> RepackageResult:
    """`result` with the old layout's files that are still stored, and their bytes."""
    renditions = storage.asset_prefix(storage.RENDITIONS, asset.id).rstrip("/")
    hls = storage.asset_prefix(storage.HLS, asset.id).rstrip("/")
    result.old_keys = [f"{renditions}/{name}" for name in _listdir(renditions)[1] if _OLD_MP4.match(name)]
    result.old_dirs = [f"{hls}/{name}" for name in _listdir(hls)[0] if _OLD_RUNG_DIR.match(name)]
    sizes = [storage.size(key) for key in result.old_keys]
    for directory in result.old_dirs:
        sizes += [storage.size(f"{directory}/{name}") for name in _listdir(directory)[1]]
    result.old_bytes = sum(sizes)
    return result


def _listdir(path: str) -> tuple[list[str], list[str]]:
    """(folders, files) under a key prefix; nothing where there is nothing (the filesystem raises)."""
    try:
        folders, files = storage.get_storage().listdir(path)
    except FileNotFoundError:
        return [], []
    return list(folders), list(files)


def _stored_at(key: str) -> datetime:
    return storage.get_storage().get_modified_time(key)


def _remuxed(asset: Asset, workdir: Path) -> Ladder:
    """The old MP4s (the rows' keys, largest first) fetched into `workdir` and remuxed there."""
    rows = sorted(
        asset.renditions.filter(kind=Rendition.Kind.MP4), key=lambda r: (r.width * r.height, r.profile), reverse=True
    )
    if not all(r.storage_key.startswith(f"{storage.RENDITIONS}/") for r in rows):
        raise ProcessingError("Some of its rungs are in the old layout and some in the new one.")
    mp4s = {r.profile: workdir / "old" / f"{r.profile}.mp4" for r in rows}
    storage.download_files({r.storage_key: mp4s[r.profile] for r in rows})
    root = workdir / "streams"
    layout = repackage_ops.remux_legacy(mp4s, root, timeout=ffmpeg_timeout_s(_duration(asset)))
    return index_ladder(root, layout.videos, layout.audio)


def _require_plays(master: Path, ladder: Ladder, duration_s: float) -> None:
    """The new master opened here as a player opens it (ffprobe, HLS demuxer: every variant's
    playlist, init and first fragment), with a picture and the sound, and each stream as long
    as the source (its fragments' durations)."""
    args = ["ffprobe", "-v", "error", "-of", "csv=p=0", "-show_entries", "stream=codec_type", str(master)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    kinds = set(done.stdout.split())
    wanted = {"video", "audio"} if ladder.audio else {"video"}
    if done.returncode != 0 or not wanted <= kinds:
        raise ProcessingError(f"The new master does not play here: {done.stderr.strip()[-300:] or kinds}.")
    for encoded in [*ladder.videos, *([ladder.audio] if ladder.audio else [])]:
        if duration_s and abs(encoded.index.duration_s - duration_s) > 0.5:
            raise ProcessingError(
                f"{encoded.stream.directory} lasts {encoded.index.duration_s:.2f} s, the source {duration_s:.2f} s."
            )


def _store(asset: Asset, ladder: Ladder) -> None:
    """Through the encode's own store (media, playlists, manifest, master last, then the rows),
    in the name of the job that made the old files."""
    from .streams import streams_store  # the encode's store; imported here, used only here

    job = asset.latest_job
    if job is None:
        raise ProcessingError("It has no job to record the new streams under.")
    encoder = asset.renditions.filter(kind=Rendition.Kind.MP4).values_list("encoder", flat=True).first() or ""
    streams_store(job=job, ladder=ladder, encoder=encoder)


def _require_stored(asset_id: uuid.UUID, root: Path) -> None:
    """Every file of the local tree is stored, whole (same size): what the new master names."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = stream_key(asset_id, path.relative_to(root).as_posix())
        if not storage.exists(key) or storage.size(key) != path.stat().st_size:
            raise ProcessingError(f"{key} was not stored whole.")
    _require_new_master(asset_id)


def _require_new_master(asset_id: uuid.UUID) -> None:
    """The stored master is the new layout's, and every playlist and file it leads to is stored."""
    master = stream_key(asset_id, MASTER)
    text = storage.read_bytes(master).decode()
    if "#EXT-X-VERSION:3" in text or "video/" not in text:
        raise ProcessingError("The stored master is not the new layout's.")
    for playlist in _uris(text):
        key = stream_key(asset_id, playlist)
        directory = playlist.rsplit("/", 1)[0]
        for name in _uris(storage.read_bytes(key).decode()):
            if not storage.exists(stream_key(asset_id, f"{directory}/{name}")):
                raise ProcessingError(f"{directory}/{name} is named but not stored.")


def _uris(text: str) -> list[str]:
    """Every file a playlist names: its lines, and the URI attributes (EXT-X-MAP, EXT-X-MEDIA)."""
    names = hls_ops.playlist_segments(text)
    names += [line.split('URI="', 1)[1].split('"', 1)[0] for line in text.splitlines() if 'URI="' in line]
    return list(dict.fromkeys(names))
