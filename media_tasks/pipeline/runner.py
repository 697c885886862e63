"""Run an ffmpeg command, reading its own `-progress` output."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .exceptions import DiskFull, EncoderKilled, ProcessingError

logger = logging.getLogger(__name__)

# Called with the fraction done (0..1). It may raise (to cancel): ffmpeg is then
# killed and the exception propagates.
ProgressCallback = Callable[[float], None]

PROGRESS_ARGS = ("-progress", "pipe:1", "-nostats")
QUIET_ARGS = ("-hide_banner", "-nostdin", "-loglevel", "error", "-y")
# How often a running ffmpeg is looked at (the deadline, a cancel), at the longest.
POLL_S = 0.5
# A full disk, as ffmpeg words it (strerror): the machine's fault, never the file's.
OUT_OF_SPACE = (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # If the worker process is SIGKILLed, its ffmpeg must not live on as an orphan
    # that keeps a CPU busy and writes into a directory nobody owns any more.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def _child_setup(niceness: int) -> Callable[[], None]:
    def setup() -> None:  # pragma: no cover - runs in the child
        _die_with_parent()
        if niceness:
            os.nice(niceness)

    return setup


def run_ffmpeg(
    args: Sequence[str],
    *,
    duration: float | None = None,
    on_progress: ProgressCallback | None = None,
    min_interval: float = 1.0,
    timeout: float | None = None,
    what: str = "The video",
    cwd: Path | None = None,
    niceness: int = 0,
) -> str:
    """Run `args` (a full ffmpeg command line) to completion, in `cwd` if given; returns what it
    logged (stderr), where a filter such as ebur128 writes its summary.

    Progress comes from ffmpeg's `-progress pipe:1` key=value blocks (out_time_us against the
    known duration), read on a side thread. `on_progress` is called every `min_interval` s with
    the latest fraction, whether or not ffmpeg has said anything new: ffmpeg 5.1 writes no
    progress until every output has had its first frame, and a cancel (the callback raising) or
    the deadline must not wait for that. `niceness` lowers its CPU priority (os.nice): work that
    nobody waits for gives way to work that somebody does.
    """
    cmd = list(args)
    if on_progress is not None:
        cmd[1:1] = PROGRESS_ARGS
    logger.debug("ffmpeg: %s", " ".join(cmd))
    deadline = time.monotonic() + timeout if timeout else None
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if on_progress else subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=_child_setup(niceness),
            cwd=cwd,
        )
        try:
            _supervise(proc, _ProgressReader(proc, duration), on_progress, min_interval, deadline)
        except subprocess.TimeoutExpired as exc:
            _kill(proc)
            raise ProcessingError(f"{what} took too long to process and was stopped.") from exc
        except BaseException:
            _kill(proc)
            raise
        stderr.seek(0)
        text = stderr.read().decode("utf-8", "replace")
        if proc.returncode < 0:
            # Death by a signal we did not send (ours are handled above): the OOM killer or an
            # operator, not the file. Transient: the stage is tried again.
            raise EncoderKilled(_signal_name(-proc.returncode))
        if proc.returncode != 0:
            if full := [line for line in text.splitlines() if any(words in line for words in OUT_OF_SPACE)]:
                raise DiskFull(f"ffmpeg: {full[0].strip()[:300]}")
            raise ProcessingError(f"{what} could not be processed (ffmpeg: {_last_line(text)}).")
    return text


@contextlib.contextmanager
def disk_full_guard() -> Iterator[None]:
    """Turn our own writes' ENOSPC (OSError) into DiskFull, as run_ffmpeg does for ffmpeg's."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(str(exc)) from exc
        raise


class _ProgressReader(threading.Thread):
    """Reads ffmpeg's progress blocks as they come, so that nothing waits on them: `done` is the
    latest fraction (0..1), `ended` whether ffmpeg said it finished."""

    def __init__(self, proc: subprocess.Popen[bytes], duration: float | None):
        super().__init__(name=f"ffmpeg-progress-{proc.pid}", daemon=True)
        self.stream, self.duration = proc.stdout, duration
        self.done, self.ended = 0.0, False
        if self.stream is not None:
            self.start()

    def run(self) -> None:
        for raw in self.stream or ():
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "progress" and value == "end":
                self.ended = True
            elif key == "out_time_us" and self.duration:
                try:
                    self.done = max(self.done, min(1.0, int(value) / 1e6 / self.duration))
                except ValueError:  # "N/A" before the first frame
                    continue


def _supervise(
    proc: subprocess.Popen[bytes],
    reader: _ProgressReader,
    on_progress: ProgressCallback | None,
    min_interval: float,
    deadline: float | None,
) -> None:
    """Wait for ffmpeg, calling `on_progress` every `min_interval` s and checking the deadline
    (subprocess.TimeoutExpired past it) at least every POLL_S s."""
    poll = min(POLL_S, min_interval)
    last_report = -math.inf
    while True:
        try:
            proc.wait(timeout=poll)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if deadline is not None and now > deadline:
            raise subprocess.TimeoutExpired(proc.args, now - deadline)
        if on_progress is not None and now - last_report >= min_interval:
            last_report = now
            on_progress(reader.done)
    if reader.is_alive():
        reader.join(timeout=POLL_S)
    if on_progress is not None and proc.returncode == 0 and reader.ended:
        on_progress(1.0)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Stop ffmpeg at once: it was cancelled or overran, and what it wrote is thrown away (a
    SIGTERM would have it finish its outputs first, seconds of work nobody keeps)."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no error message"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
