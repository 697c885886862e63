"""A work disk that fills up is the machine's fault, not the file's: a real ffmpeg writing onto a
really full filesystem (a small tmpfs) raises DiskFull, which the caller retries, never the
ProcessingError that fails a job as bad input."""

import subprocess
from pathlib import Path

import pytest

from media_tasks.pipeline.exceptions import DiskFull, PipelineError
from media_tasks.pipeline.lead import transcode_ladder_with_lead
from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.runner import QUIET_ARGS, disk_full_guard, run_ffmpeg
from media_tasks.pipeline.video import plan_ladder
from tests.media import make_video

LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)


@pytest.fixture
def tiny_disk(tmp_path) -> Path:
    """A 1 MiB tmpfs of its own, unmounted afterwards (mounting needs root, as in CI's container)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_ffmpeg_out_of_space_is_disk_full_not_bad_input(tiny_disk):
    args = ["ffmpeg", *QUIET_ARGS, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=10",
            "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", str(tiny_disk / "out.mp4")]  # fmt: skip
    with pytest.raises(DiskFull) as caught:
        run_ffmpeg(args, duration=10, on_progress=lambda fraction: None)
    assert not isinstance(caught.value, PipelineError)
    assert "No space left on device" in str(caught.value)


def test_a_ladder_encoded_onto_a_full_work_disk_is_disk_full(tiny_disk, tmp_path):
    source = make_video(tmp_path / "src.mp4", width=1280, height=720, duration=6.0)
    info = probe(source, LIMITS)
    rungs = plan_ladder(info, [720, 480, 360])
    with pytest.raises(DiskFull):
        transcode_ladder_with_lead(source, info, rungs, tiny_disk / "streams")


def test_a_python_writer_on_a_full_device_is_disk_full():
    """/dev/full answers every write with ENOSPC: the pipeline's own writes say DiskFull too."""
    with pytest.raises(DiskFull), disk_full_guard(), open("/dev/full", "w") as full:
        full.write("x" * 100_000)
        full.flush()
