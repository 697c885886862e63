"""A chunked encode must be indistinguishable from a whole-file one (checked with ffprobe)."""

import itertools
import json
import subprocess

import pytest

from media_tasks.pipeline import chunks, video
from media_tasks.pipeline.probe import probe
from media_tasks.pipeline.quality import measure_ssim
from tests.media import make_video
from tests.pipeline.test_video import LIMITS


def _ffprobe(path, *args: str) -> dict:
    command = ["ffprobe", "-v", "error", *args, "-of", "json", str(path)]
    return json.loads(subprocess.run(command, capture_output=True, check=True, text=True).stdout)


def frames(path) -> list[float]:
    packets = _ffprobe(path, "-select_streams", "v:0", "-show_entries", "packet=pts_time")["packets"]
    return sorted(float(p["pts_time"]) for p in packets)


def stream_durations(path) -> dict[str, float]:
    streams = _ffprobe(path, "-show_entries", "stream=codec_type,duration")["streams"]
    return {s["codec_type"]: float(s["duration"]) for s in streams}


def keyframes(path) -> list[float]:
    found = _ffprobe(path, "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries", "frame=pts_time")
    return [round(float(f["pts_time"]), 3) for f in found["frames"]]


@pytest.mark.parametrize(
    ("duration", "chunk", "expected"), [(60, 30, 2), (61, 30, 2), (76, 30, 3), (10, 30, 1), (9, 4, 2)]
)
def test_spans_cover_the_picture_on_the_keyframe_grid(duration, chunk, expected):
    spans = chunks.plan_spans(duration, chunk, start_time=0.5)
    assert len(spans) == expected and spans[0].start == 0.5 and spans[-1].end is None
    assert all(a.end == b.start for a, b in itertools.pairwise(spans))
    assert all((s.start - 0.5) % video.GOP_SECONDS == 0 for s in spans)


def test_chunked_encode_matches_the_whole_file_encode(tmp_path):
    src = make_video(tmp_path / "src.mp4", width=640, height=360, duration=9.0, tone=330)
    info = probe(src, LIMITS)
    rungs = video.plan_ladder(info, [360, 240])
    whole = video.transcode_ladder(src, info, rungs, tmp_path / "whole")

    spans = chunks.plan_spans(info.duration, 4, chunks.video_start_time(src))
    assert len(spans) == 2
    pieces = [video.transcode_ladder(src, info, rungs, tmp_path / f"chunk{i}", span=s) for i, s in enumerate(spans)]
    audio = chunks.encode_audio(src, info, rungs[0].audio_kbps, tmp_path / "audio.m4a")
    joined = []
    for r, rung in enumerate(rungs):
        hls = tmp_path / "hls" / rung.name
        out = chunks.join([p[r].path for p in pieces], audio, tmp_path / f"{rung.name}.mp4", hls_dir=hls)
        joined.append(video.describe_video(rung.name, out))
        playlist = (hls / "index.m3u8").read_text()
        assert "#EXT-X-ENDLIST" in playlist and playlist.count("#EXTINF:") == 3  # 4 s segments over 9 s

    for a, b in zip(whole, joined, strict=True):
        whole_frames, joined_frames = frames(a.path), frames(b.path)
        assert len(joined_frames) == len(whole_frames) == 270, (a.name, len(whole_frames), len(joined_frames))
        assert all(x < y for x, y in itertools.pairwise(joined_frames)), "timestamps not monotonic"
        assert joined_frames == pytest.approx(whole_frames, abs=1e-3)
        durations = stream_durations(b.path)
        assert abs(durations["video"] - durations["audio"]) < 0.040, durations
        assert keyframes(b.path) == keyframes(a.path), "the keyframe grid moved"
        assert (b.width, b.height, b.codecs) == (a.width, a.height, a.codecs)
    whole_ssim = measure_ssim(src, info, whole, tmp_path / "s1")
    joined_ssim = measure_ssim(src, info, joined, tmp_path / "s2")
    for name in whole_ssim:
        assert abs(whole_ssim[name] - joined_ssim[name]) < 0.002, (whole_ssim, joined_ssim)
