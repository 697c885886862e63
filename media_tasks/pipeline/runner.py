"""Run an ffmpeg command, reading its own `-progress` output."""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .exceptions import EncoderKilled, ProcessingError

logger = logging.getLogger(__name__)

# Called with the fraction done (0..1). It may raise (to cancel): ffmpeg is then
# killed and the exception propagates.
ProgressCallback = Callable[[float], None]

PROGRESS_ARGS = ("-progress", "pipe:1", "-nostats")
QUIET_ARGS = ("-hide_banner", "-nostdin", "-loglevel", "error", "-y")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # If the worker process is SIGKILLed, its ffmpeg must not live on as an orphan
    # that keeps a CPU busy and writes into a directory nobody owns any more.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def run_ffmpeg(
    args: Sequence[str],
    *,
    duration: float | None = None,
    on_progress: ProgressCallback | None = None,
    min_interval: float = 1.0,
    timeout: float | None = None,
    what: str = "The video",
    cwd: Path | None = None,
) -> None:
    """Run `args` (a full ffmpeg command line) to completion, in `cwd` if given.

    Progress comes from ffmpeg's `-progress pipe:1` key=value blocks (out_time_us
    against the known duration) and is reported at most every `min_interval` s.
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
            preexec_fn=_die_with_parent,
            cwd=cwd,
        )
        try:
            if on_progress is not None and proc.stdout is not None:
                _follow_progress(proc, duration, on_progress, min_interval, deadline)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired as exc:
            _kill(proc)
            raise ProcessingError(f"{what} took too long to process and was stopped.") from exc
        except BaseException:
            _kill(proc)
            raise
        if proc.returncode < 0:
            # Death by a signal we did not send (ours are handled above): the OOM killer or an
            # operator, not the file. Transient: the stage is tried again.
            raise EncoderKilled(_signal_name(-proc.returncode))
        if proc.returncode != 0:
            stderr.seek(0)
            detail = _last_line(stderr.read().decode("utf-8", "replace"))
            raise ProcessingError(f"{what} could not be processed (ffmpeg: {detail}).")


def _follow_progress(
    proc: subprocess.Popen[bytes],
    duration: float | None,
    on_progress: ProgressCallback,
    min_interval: float,
    deadline: float | None,
) -> None:
    last_report = 0.0
    for raw in proc.stdout or ():
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if deadline is not None and time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, 0)
        if key == "progress" and value == "end":
            on_progress(1.0)
            continue
        if key != "out_time_us" or not duration:
            continue
        try:
            done = max(0.0, min(1.0, int(value) / 1e6 / duration))
        except ValueError:  # "N/A" before the first frame
            continue
        now = time.monotonic()
        if now - last_report >= min_interval:
            last_report = now
            on_progress(done)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
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
