"""Move a library stored before CMAF to the stream layout, by remuxing (never re-encoding), then
delete the old files once no player can still be reading them (processing/repackage.py).

Resumable and idempotent: what each asset needs is read from what is stored, so an asset in the
new layout is skipped, and a run that stopped between a move and its deletions is finished by
the next. Failures of one asset are reported and the others go on.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from media_tasks.models import Asset, Rendition
from media_tasks.processing.repackage import (
    RepackageResult,
    State,
    asset_repackage,
    default_grace_s,
    old_files_delete,
)

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Move videos stored before CMAF (renditions/<asset>/<rung>.mp4 + MPEG-TS HLS) to the CMAF stream "
        "layout by remuxing, then delete the old files after a grace period for players still reading them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Store, record and delete nothing; print the bytes it would free (each old asset is still "
            "downloaded and remuxed in the work directory, to count the new files exactly).",
        )
        parser.add_argument(
            "--grace-s",
            type=float,
            default=None,
            help="Seconds the old files stay after an asset's move (default: its duration + 60 s, at most 30 min).",
        )
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="Delete only the old files whose grace period is over; a later run deletes the rest.",
        )
        parser.add_argument("--asset", nargs="+", type=uuid.UUID, default=None, help="Only these assets.")

    def handle(self, *args, **options) -> None:
        dry_run, grace_s = options["dry_run"], options["grace_s"]
        ids = options["asset"] or list(
            Asset.objects.filter(kind=Asset.Kind.VIDEO, renditions__kind=Rendition.Kind.MP4)
            .distinct()
            .order_by("created_at")
            .values_list("id", flat=True)
        )
        results, failed = self._move_all(ids, dry_run)
        counts = {state: sum(1 for r in results if r.state == state) for state in vars(State).values()}
        if dry_run:
            would = sum(r.freed_bytes for r in results if r.state == State.WOULD_MOVE)
            self.stdout.write(f"Would free {would} bytes.")
            summary = f"{counts[State.WOULD_MOVE]} would move, {counts[State.MOVED_BEFORE]} moved before"
        else:
            pending = [r for r in results if r.state in (State.MOVED, State.MOVED_BEFORE) and r.has_old_files]
            freed, deleted, failed_deletes = self._delete_old(pending, grace_s, options["no_wait"])
            failed += failed_deletes
            self.stdout.write(f"Freed {freed} bytes.")
            summary = (
                f"{counts[State.MOVED]} moved, {counts[State.MOVED_BEFORE]} moved before, "
                f"old files deleted for {deleted}"
            )
        self.stdout.write(
            f"repackage: {len(ids)} assets: {summary}, {counts[State.CURRENT]} already current, {failed} failed."
        )
        if failed:
            raise CommandError(f"{failed} assets failed (see above); run the command again to retry them.")

    def _move_all(self, ids: list[uuid.UUID], dry_run: bool) -> tuple[list[RepackageResult], int]:
        results, failed = [], 0
        workdir = Path(settings.MEDIA_WORK_DIR) / "repackage"
        for done, asset_id in enumerate(ids):
            self._progress(done, len(ids), str(asset_id))
            try:
                results.append(asset_repackage(asset_id=asset_id, workdir=workdir / str(asset_id), dry_run=dry_run))
            except Exception as exc:  # one asset's failure is reported; the others go on
                failed += 1
                self.stderr.write(f"\n{asset_id}: not moved: {exc}")
        self._progress(len(ids), len(ids), "done")
        self.stderr.write("")
        return results, failed

    def _delete_old(self, pending: list[RepackageResult], grace_s: float | None, no_wait: bool) -> tuple[int, int, int]:
        """The old files of each moved asset deleted once its grace period is over, the earliest
        first (waiting for it, unless `no_wait`). Returns (bytes freed, assets done, failures)."""
        freed = deleted = failed = 0

        def due(result: RepackageResult):
            grace = grace_s if grace_s is not None else default_grace_s(result.duration_s)
            return (result.moved_at or timezone.now()) + timedelta(seconds=grace)

        for result in sorted(pending, key=due):
            wait = (due(result) - timezone.now()).total_seconds()
            if wait > 0 and no_wait:
                self.stdout.write(f"{result.asset_id}: old files kept {wait:.0f} s more (run again to delete them).")
                continue
            if wait > 0:
                self.stdout.write(f"{result.asset_id}: waiting {wait:.0f} s for players of the old files.")
                time.sleep(wait)
            try:
                removed = old_files_delete(result)
            except Exception as exc:  # reported; the next run tries again
                failed += 1
                self.stderr.write(f"{result.asset_id}: old files not deleted: {exc}")
                continue
            deleted += 1
            freed += result.freed_bytes if result.state == State.MOVED else removed
        return freed, deleted, failed

    def _progress(self, done: int, total: int, what: str) -> None:
        """A progress bar on stderr, rewritten in place (tqdm is not a dependency)."""
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        self.stderr.write(f"\r[{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {done}/{total} {what[:36]:<36}", ending="")
        self.stderr.flush()
