"""What a rendition holds matches what its source declares: a source cut short is refused with
its reason, and a sparse source is not padded past its end."""

import json
import subprocess
from pathlib import Path

import pytest

from media_tasks.pipeline.exceptions import PipelineError
from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.streams import transcode_ladder
from media_tasks.pipeline.video import plan_ladder
from tests.media import make_cut_short_avi, make_cut_short_mp4, make_sparse_avi

LADDER = [1080, 720, 480, 360]
LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)


def whole_file_encode(source: Path, out: Path):
    info = probe(source, LIMITS)
    rungs = plan_ladder(info, LADDER)
    ladder = transcode_ladder(
        source, info, rungs, out / "streams", segmented=[rungs[-1].name], frames_dir=out / "frames"
    )
    return info, ladder.describe()


def picture_frames(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-count_packets", "-show_entries",
         "stream=nb_read_packets", "-of", "json", str(path)],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return int(json.loads(out)["streams"][0]["nb_read_packets"])


@pytest.mark.parametrize(
    "make, declared",
    [
        (lambda path: make_cut_short_mp4(path.with_suffix(".mp4"), duration=6.0, width=320, height=240), "6.0 s"),
        (lambda path: make_cut_short_avi(path.with_suffix(".avi"), duration=20.0), "20.0 s"),
    ],
    ids=["mp4-cut-in-half", "avi-cut-at-40-percent"],
)
def test_a_source_cut_short_is_refused_with_its_reason(make, declared, tmp_path):
    source = make(tmp_path / "cut")
    with pytest.raises(PipelineError) as refused:
        info, videos = whole_file_encode(source, tmp_path)
        print(f"\n{source.name}: probe says {info.duration} s; renditions {[(v.name, v.duration) for v in videos]}")
    message = str(refused.value)
    print(f"\n{source.name}: {message}")
    assert "cut short" in message and f"declares {declared}" in message, message


def test_a_sparse_source_is_not_padded_past_its_end(tmp_path):
    source = make_sparse_avi(tmp_path / "sparse.avi", duration=30.0, rate=15)
    info, videos = whole_file_encode(source, tmp_path)
    frame = 1 / 15
    for video in videos:
        frames = picture_frames(video.path)
        print(f"\n{video.name}: {frames} frames, {video.duration:.3f} s for a {info.duration:.3f} s source")
        assert abs(video.duration - info.duration) <= frame + 1e-3, (video.duration, info.duration)
        assert abs(frames - round(info.duration / frame)) <= 1, frames
