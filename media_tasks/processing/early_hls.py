"""Playable before the ladder is done: while ffmpeg encodes, the lead rung's segments go to
storage as they are closed (pipeline.lead: it is encoded apart, ahead of the rest), and once
enough are stored (workflow.is_playable) a master naming it is published and the job marked
playable.

Order, so that a player never sees a name that is not stored: a rung's segments, then its
playlist naming only those; the master only once the rungs it names have segments. The final
store (transcode.store_ladder) overwrites the same keys with the VOD playlists and the
measured master, after this publisher has stopped.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from django.db import connection

from .. import storage
from ..models import Job, Rendition
from ..pipeline import hls as hls_ops
from ..pipeline.video import Rung
from .transitions import job_mark_playable
from .workflow import EARLY_HLS_POLL_S, is_playable

logger = logging.getLogger(__name__)

PLAYLIST = hls_ops.PLAYLIST
MASTER = "master.m3u8"


class EarlyHlsPublisher(threading.Thread):
    """Stores what the running encode has closed, every EARLY_HLS_POLL_S, until stopped.

    Storage out of reach only delays it (the next look tries again); the final store at the
    end of the stage does not depend on it."""

    def __init__(
        self, *, job_id: uuid.UUID | str, asset_id: uuid.UUID, rungs: Sequence[Rung], hls_dir: Path, worker: str
    ):
        super().__init__(name=f"early-hls-{job_id}", daemon=True)
        self.job_id, self.asset_id, self.rungs, self.hls_dir, self.worker = job_id, asset_id, rungs, hls_dir, worker
        self.stored: dict[str, list[str]] = {rung.name: [] for rung in rungs}
        self.published: dict[str, str] = {}  # the playlist text last stored, per rung
        self.in_master: list[str] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            with tempfile.TemporaryDirectory(prefix="early-hls-") as scratch:
                while not self._stop_event.wait(EARLY_HLS_POLL_S):
                    try:
                        self.publish(Path(scratch))
                    except storage.StorageUnavailable as exc:
                        logger.info("job %s: early HLS waits for storage (%s)", self.job_id, exc)
        except Exception:  # the final store still publishes everything: never fail the encode here
            logger.exception("job %s: early HLS publishing stopped", self.job_id)
        finally:
            connection.close()  # this thread's own database connection

    def stop(self) -> None:
        """Stop after the current look (the caller's final store must not race an early playlist)."""
        self._stop_event.set()
        self.join()

    def publish(self, scratch: Path) -> None:
        """One look: new segments and their playlists, then the master and the playable mark."""
        for rung in self.rungs:
            self._publish_rung(rung.name, scratch)
        named = [rung for rung in self.rungs if self.stored[rung.name]]
        if not is_playable([len(self.stored[rung.name]) for rung in self.rungs]):
            return
        if [rung.name for rung in named] != self.in_master:
            master = scratch / MASTER
            master.write_text(hls_ops.early_master(named))
            storage.replace_file(master, self._key(MASTER))
            self.in_master = [rung.name for rung in named]
            job_mark_playable(job_id=self.job_id, worker=self.worker)
            logger.info("job %s: playable, the master names %s", self.job_id, ", ".join(self.in_master))

    def _publish_rung(self, name: str, scratch: Path) -> None:
        local = self.hls_dir / name / PLAYLIST
        try:
            text = local.read_text()  # replaced whole by ffmpeg (hls_flags temp_file)
        except FileNotFoundError:
            return
        if text == self.published.get(name):
            return
        segments = hls_ops.playlist_segments(text)
        new = segments[len(self.stored[name]) :]
        # Also with no new segment: the encode's end adds #EXT-X-ENDLIST, which a player must see.
        if new:
            storage.upload_files({self.hls_dir / name / segment: self._key(f"{name}/{segment}") for segment in new})
        snapshot = scratch / f"{name}.m3u8"
        snapshot.write_text(text)  # the text read above: it names only the segments now stored
        storage.replace_file(snapshot, self._key(f"{name}/{PLAYLIST}"))
        self.stored[name] = segments
        self.published[name] = text

    def _key(self, name: str) -> str:
        return storage.asset_key(storage.HLS, self.asset_id, name)


def early_hls_remove(*, job_id: uuid.UUID | str) -> int:
    """Remove what the job's encode published early, once the job ended without success (failed
    or cancelled, and no newer job of its asset runs): nothing plays it any more. Kept when a
    finished HLS is recorded: a re-encode publishes nothing early over it. Called after the
    publisher stopped; storage out of reach leaves the files (logged)."""
    job = Job.objects.filter(pk=job_id).values("asset_id", "status").first()
    if job is None or job["status"] not in (Job.Status.FAILED, Job.Status.CANCELLED):
        return 0
    latest = Job.objects.filter(asset_id=job["asset_id"]).order_by("-created_at").values_list("pk", flat=True)
    if latest.first() != uuid.UUID(str(job_id)):
        return 0
    if Rendition.objects.filter(asset_id=job["asset_id"], kind=Rendition.Kind.HLS).exists():
        return 0
    try:
        removed = storage.delete_prefix(storage.HLS, job["asset_id"])
    except storage.StorageUnavailable as exc:
        logger.warning("job %s: its early HLS stays in storage, out of reach (%s)", job_id, exc)
        return 0
    if removed:
        logger.info("job %s: removed the %d HLS files it published early", job_id, removed)
    return removed
