"""Playable before the ladder is done: while ffmpeg encodes, the lead rung's and the sound's fMP4
segments go to storage as they are closed (pipeline.lead: they are encoded apart, ahead of the
rest), and once enough are stored (workflow.is_playable) a master naming them is published and
the job marked playable.

Order, so that a player never sees a name that is not stored: a stream's init segment and
segments, then its playlist naming only those; the master only once the streams it names have
segments. The final store (streams.streams_store) overwrites the same keys with the VOD
playlists and the measured master, after this publisher has stopped.
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
from ..pipeline.identity import INIT, MASTER, Stream
from ..pipeline.video import Rung
from .transitions import job_mark_playable
from .workflow import EARLY_HLS_POLL_S, is_playable

logger = logging.getLogger(__name__)


class EarlyHlsPublisher(threading.Thread):
    """Stores what the running encode has closed, every EARLY_HLS_POLL_S, until stopped.

    Storage out of reach only delays it (the next look tries again); the final store at the
    end of the stage does not depend on it."""

    def __init__(
        self,
        *,
        job_id: uuid.UUID | str,
        asset_id: uuid.UUID,
        rungs: Sequence[Rung],
        audio: Stream | None,
        root: Path,
        worker: str,
    ):
        super().__init__(name=f"early-hls-{job_id}", daemon=True)
        self.job_id, self.asset_id, self.rungs, self.audio, self.root = job_id, asset_id, rungs, audio, root
        self.worker = worker
        self.streams = [rung.stream for rung in rungs] + ([audio] if audio else [])
        self.stored: dict[Stream, list[str]] = {stream: [] for stream in self.streams}
        self.published: dict[Stream, str] = {}  # the playlist text last stored, per stream
        self.in_master: list[str] | None = None  # the rungs the published master names
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
        for stream in self.streams:
            self._publish_stream(stream, scratch)
        named = [rung for rung in self.rungs if self.stored[rung.stream]]
        if not is_playable([len(self.stored[stream]) for stream in self.streams]):
            return
        if [rung.name for rung in named] != self.in_master:
            master = scratch / MASTER
            master.write_text(hls_ops.early_master([(rung.stream, rung) for rung in named], self.audio))
            storage.replace_file(master, self._key(MASTER))
            self.in_master = [rung.name for rung in named]
            job_mark_playable(job_id=self.job_id, worker=self.worker)
            logger.info("job %s: playable, the master names %s", self.job_id, ", ".join(self.in_master) or "the sound")

    def _publish_stream(self, stream: Stream, scratch: Path) -> None:
        local = self.root / stream.playlist
        try:
            text = local.read_text()  # replaced whole by ffmpeg (hls_flags temp_file)
        except FileNotFoundError:
            return
        if text == self.published.get(stream):
            return
        segments = hls_ops.playlist_segments(text)
        new = segments[len(self.stored[stream]) :]
        if not self.stored[stream]:
            new = [INIT, *new]  # written before the first segment is closed
        # Also with no new segment: the encode's end adds #EXT-X-ENDLIST, which a player must see.
        if new:
            names = [f"{stream.directory}/{name}" for name in new]
            storage.upload_files({self.root / name: self._key(name) for name in names})
        snapshot = scratch / f"{stream.kind}-{stream.slug}.m3u8"
        snapshot.write_text(text)  # the text read above: it names only the segments now stored
        storage.replace_file(snapshot, self._key(stream.playlist))
        self.stored[stream] = segments
        self.published[stream] = text

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
