"""The ladder as two encodes side by side: the lead rung (the lowest, which a player starts on)
alone, and the other rungs from one decode. On its own the small rung runs several times faster
than real time, so a viewer who starts as soon as its first segment is out never catches up
with it, however slowly the large rungs go. It costs one more decode of the source, which a short
source is spared (`apart` False): all of it comes out in seconds anyway.

The lead and the sound are written as segments (published while they grow: processing.early_hls),
the other rungs as one CMAF file each (identity.py).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .exceptions import ProcessingCancelled
from .integrity import declared_duration, require_complete
from .probe import MediaInfo
from .runner import ProgressCallback
from .streams import Ladder, ladder_written
from .video import Rung, encode_ladder

# The other rungs give way to the lead when they compete for the CPU (os.nice; the lead is about a
# tenth of the work): its first segment is out sooner, and it runs further ahead of a viewer.
REST_NICENESS = 10


def lead_rung(rungs: Sequence[Rung]) -> Rung:
    """The rung a player starts on, and the first one made whole: the smallest."""
    return rungs[-1]


def transcode_ladder_with_lead(
    src: Path,
    info: MediaInfo,
    rungs: Sequence[Rung],
    out_dir: Path,
    *,
    on_progress: ProgressCallback | None = None,
    apart: bool = True,
    choose: Callable[..., Sequence[Rung]] | None = None,
    also: Callable[..., object] | None = None,
    **options: Any,
) -> Ladder:
    """As streams.transcode_ladder (the same streams, largest rung first), the lead rung and the
    sound segmented, and (`apart`) encoded by an ffmpeg of their own beside the rest. `on_progress`
    follows the rest, the slower part; the frames for the thumbnails come from its decode. If one
    part fails or is cancelled, the other is stopped within a second and the first error is raised.

    `choose(on_progress=...)` (pertitle.py) gives the rungs to encode instead of `rungs`, the lead
    unchanged: with the lead apart it runs beside the lead's encode, so that the lead is out as soon
    as without it. Its callback stops it, by raising, as the encode's does."""
    lead = lead_rung(rungs)
    final = list(rungs)
    stopped = threading.Event()
    failures: list[BaseException] = []  # in the order they happened

    def part(part_rungs: list[Rung], report: ProgressCallback | None, extra: dict[str, Any]) -> dict[str, Path]:
        check = _stop_check(stopped, report)
        try:
            return encode_ladder(
                src, info, part_rungs, out_dir, on_progress=check, segmented=[lead.name], **{**options, **extra}
            )
        except BaseException as exc:
            failures.append(exc)
            stopped.set()
            raise

    def rest() -> dict[str, Path]:
        if choose is not None:
            final[:] = _guarded(choose, _stop_check(stopped, on_progress), stopped, failures)
        written = {}
        if len(final) > 1:  # else every other rung dropped: the lead is the ladder (no frames from here)
            written = part(final[:-1], on_progress, {"niceness": REST_NICENESS, "sound": False})
        if also is not None:
            _guarded(also, _stop_check(stopped, on_progress), stopped, failures)
        return written

    if len(rungs) < 2 or not apart:
        if choose is not None and len(rungs) > 1:
            final[:] = choose(on_progress=_stop_check(stopped, on_progress))
        written = part(final, on_progress, {})
        if also is not None:
            also(on_progress=_stop_check(stopped, on_progress))
    else:
        written = _both(lambda: part([lead], None, {"frames_dir": None}), rest)
        if failures:
            raise failures[0]
    ladder = ladder_written(out_dir, final, written)
    require_complete(declared_duration(info), min(v.index.duration_s for v in ladder.videos))
    return ladder


def _stop_check(stopped: threading.Event, report: ProgressCallback | None) -> ProgressCallback:
    """A part's progress callback: it stops the part once the other failed, and reports to `report`."""

    def check(fraction: float) -> None:
        if stopped.is_set():
            raise ProcessingCancelled("The other part of the encode stopped.")
        if report is not None:
            report(fraction)

    return check


def _guarded(
    work: Callable[..., Any],
    check: ProgressCallback,
    stopped: threading.Event,
    failures: list[BaseException],
) -> Any:
    """`work`'s result (`choose`'s rungs); a failure stops the lead too, as a failed encode does."""
    try:
        return work(on_progress=check)
    except BaseException as exc:
        failures.append(exc)
        stopped.set()
        raise


def _both(aside: Callable[[], dict[str, Path]], here: Callable[[], dict[str, Path]]) -> dict[str, Path]:
    """Run `aside` on a side thread and `here` on this one (the caller's progress callback may
    need this thread: a database connection is per thread); merge their files. The parts'
    failures are the caller's to raise."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ladder-lead") as pool:
        side = pool.submit(aside)
        files: dict[str, Path] = {}
        with contextlib.suppress(BaseException):  # recorded by the part itself
            files.update(here())
        if side.exception() is None:
            files.update(side.result())
    return files
