"""A whole-file encode (the ladder, the poster candidates and the sprite tiles from one decode)
reports progress from its start, and a cancel stops its ffmpeg at once, however far behind the
slowest of its outputs is.

Measured in how much of the source the encode had reached, not in seconds: the machine's speed
changes the one and not the other.
"""

import threading
from pathlib import Path

import pytest

from media_tasks.pipeline.exceptions import ProcessingCancelled
from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.streams import transcode_ladder
from media_tasks.pipeline.video import plan_ladder
from tests.media import make_video
from tests.pipeline.test_runner_signals import children_named_ffmpeg

SOURCE_SECONDS = 24.0
LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)


@pytest.fixture(scope="module")
def long_source(media_dir) -> Path:
    return make_video(media_dir / "long-720p.mp4", width=1280, height=720, duration=SOURCE_SECONDS, tone=523)


def encode(source: Path, out: Path, on_progress) -> None:
    info = probe(source, LIMITS)
    rungs = plan_ladder(info, [1080, 720, 480, 360])
    transcode_ladder(
        source,
        info,
        rungs,
        out / "streams",
        on_progress=on_progress,
        segmented=[rungs[-1].name],  # the lead's segments, as the whole-file encode writes them
        frames_dir=out / "frames",
    )


def tiles(out: Path) -> int:
    """Sprite tiles written so far: one per second of source decoded."""
    return len(list((out / "frames").glob("tile-*.bmp")))


def test_progress_moves_from_the_start_of_a_whole_file_encode(long_source, tmp_path):
    seen: list[float] = []

    def on_progress(fraction: float) -> None:
        if fraction > 0:
            seen.append(fraction)
            raise ProcessingCancelled("seen enough")  # the rest of the encode would tell nothing more

    with pytest.raises(ProcessingCancelled):
        encode(long_source, tmp_path, on_progress)
    print(f"\nfirst progress at {seen[0]:.2f} of the encode ({tiles(tmp_path)} of {SOURCE_SECONDS:g} tiles written)")
    assert seen[0] < 0.2, f"the first progress came at {seen[0]:.2f} of the encode"


def test_a_cancel_stops_ffmpeg_before_it_goes_much_further(long_source, tmp_path):
    requested = threading.Event()
    at_request: list[int] = []

    def cancel_once_encoding() -> None:
        # The encode is demonstrably under way (a tile is written): then the owner cancels.
        while not requested.is_set():
            if tiles(tmp_path) >= 1:
                at_request.append(tiles(tmp_path))
                requested.set()
            threading.Event().wait(0.05)

    def on_progress(fraction: float) -> None:
        if requested.is_set():
            raise ProcessingCancelled("The job was stopped.")

    watcher = threading.Thread(target=cancel_once_encoding, daemon=True)
    watcher.start()
    try:
        with pytest.raises(ProcessingCancelled):
            encode(long_source, tmp_path, on_progress)
    finally:
        requested.set()
        watcher.join()
    assert not children_named_ffmpeg(), "ffmpeg outlived the cancel"
    further = (tiles(tmp_path) - at_request[0]) / SOURCE_SECONDS
    print(f"\ncancelled at tile {at_request[0]}; ffmpeg was gone at tile {tiles(tmp_path)} ({further:.2f} further)")
    assert further < 0.1, f"ffmpeg encoded {further:.2f} of the source after the cancel"
