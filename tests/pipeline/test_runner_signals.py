"""run_ffmpeg and an ffmpeg that dies by a signal (the OOM killer's SIGKILL) versus our own stops."""

import os
import signal
from pathlib import Path

import pytest

from media_tasks.pipeline import exceptions
from media_tasks.pipeline.exceptions import PipelineError, ProcessingCancelled, ProcessingError
from media_tasks.pipeline.runner import QUIET_ARGS, run_ffmpeg


def children_named_ffmpeg() -> list[int]:
    """This process's child ffmpeg processes, from /proc (no psutil)."""
    me = str(os.getpid())
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = stat.rsplit(")", 1)[1].split()[1]
        if ppid == me and cmdline.split(b"\0", 1)[0].endswith(b"ffmpeg"):
            pids.append(int(proc.name))
    return pids


def long_encode() -> list[str]:
    """An encode of ten minutes of generated picture: long enough to be interrupted in the middle (a
    minute of it took under a second on an idle machine, past the 1 s timeout below)."""
    return ["ffmpeg", *QUIET_ARGS, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=600",
            "-c:v", "libx264", "-preset", "ultrafast", "-f", "null", "-"]  # fmt: skip


def test_ffmpeg_killed_by_sigkill_mid_encode_is_a_transient_fault():
    killed: list[int] = []

    def on_progress(fraction: float) -> None:
        if not killed and fraction > 0:  # mid-encode: some output written already
            killed.extend(children_named_ffmpeg())
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    with pytest.raises(Exception) as caught:
        run_ffmpeg(long_encode(), duration=600.0, on_progress=on_progress, min_interval=0.1)
    assert killed, "ffmpeg was never seen running"
    assert type(caught.value).__name__ == "EncoderKilled", repr(caught.value)
    assert isinstance(caught.value, exceptions.EncoderKilled)
    # Not bad input: a PipelineError would fail the job for good.
    assert not isinstance(caught.value, PipelineError)
    assert "SIGKILL" in str(caught.value)


def test_our_own_stops_keep_their_meaning():
    """A cancel from the progress callback and ffmpeg's timeout also kill ffmpeg: not transient."""

    def cancel(fraction: float) -> None:
        raise ProcessingCancelled("The job was stopped.")

    with pytest.raises(ProcessingCancelled):
        run_ffmpeg(long_encode(), duration=600.0, on_progress=cancel, min_interval=0.1)
    with pytest.raises(ProcessingError, match="took too long"):
        run_ffmpeg(long_encode(), timeout=1.0)
    assert not children_named_ffmpeg()
