import pytest

from media_tasks.pipeline import video
from media_tasks.pipeline.probe import probe
from media_tasks.pipeline.quality import measure_ssim, measure_vmaf
from media_tasks.pipeline.streams import transcode_ladder
from tests.media import make_video, vmaf_every_frame
from tests.pipeline.test_video import LIMITS


def test_ssim_per_rendition_is_high_for_a_good_encode_and_lower_for_a_starved_one(tmp_path):
    src = make_video(tmp_path / "src.mp4", width=640, height=360, duration=1.0)
    info = probe(src, LIMITS)
    rungs = video.plan_ladder(info, [360, 240])
    good = transcode_ladder(src, info, rungs, tmp_path / "good").describe()
    scores = measure_ssim(src, info, good, tmp_path / "ssim", window_count=2)
    assert set(scores) == {"360p", "240p"}
    assert all(0.9 < s <= 1.0 for s in scores.values()), scores
    starved = transcode_ladder(
        src, info, rungs[:1], tmp_path / "bad", settings=video.EncodeSettings(crf=51, preset="ultrafast")
    ).describe()
    worse = measure_ssim(src, info, starved, tmp_path / "ssim2", window_count=2)
    assert worse["360p"] < scores["360p"] - 0.01


def test_vmaf_per_rendition_is_high_for_a_good_encode_and_clearly_lower_for_a_starved_one(tmp_path):
    src = make_video(tmp_path / "src.mp4", width=640, height=360, duration=1.0)
    info = probe(src, LIMITS)
    rungs = video.plan_ladder(info, [360, 240])
    good = transcode_ladder(src, info, rungs, tmp_path / "good").describe()
    scores = measure_vmaf(src, info, good, tmp_path / "vmaf", window_count=2)
    assert set(scores) == {"360p", "240p"}
    assert scores["360p"] > 90, scores
    assert scores["240p"] < scores["360p"], "scaled up to the source's size, the smaller rung loses detail"
    starved = transcode_ladder(
        src, info, rungs[:1], tmp_path / "bad", settings=video.EncodeSettings(crf=51, preset="ultrafast")
    ).describe()
    worse = measure_vmaf(src, info, starved, tmp_path / "vmaf2", window_count=2)
    assert worse["360p"] < scores["360p"] - 20, (worse, scores)


def test_long_clips_are_measured_in_windows_and_short_ones_whole():
    from media_tasks.pipeline.quality import windows

    assert windows(30.0, 3) == [(0.0, None)]
    spread = windows(3600.0, 3)
    assert [round(start) for start, _ in spread] == [899, 1799, 2699] and {length for _, length in spread} == {2.0}


def test_vmaf_scored_on_every_third_frame_agrees_with_every_frame_on_a_noisy_clip(tmp_path):
    # Thinning the frames before libvmaf (as SSIM is thinned) doubled its motion feature: +2.5 VMAF.
    src = make_video(tmp_path / "src.mp4", width=854, height=480, duration=3.0, audio=False, noise=True)
    info = probe(src, LIMITS)
    ladder = transcode_ladder(src, info, video.plan_ladder(info, [480, 360]), tmp_path / "out")
    scores = measure_vmaf(src, info, ladder.describe(), tmp_path / "vmaf")
    for rung in ladder.describe():
        every_frame = vmaf_every_frame(rung.path, src, tmp_path / f"{rung.name}.json", (854, 480))
        assert scores[rung.name] == pytest.approx(every_frame, abs=0.5), (rung.name, scores, every_frame)
