"""The ladder as two encodes (pipeline.lead): the lead rung apart, ahead of the rest, with the
same files a one-decode ladder gives, and a failure of either part stopping both."""

import pytest

from media_tasks.pipeline.exceptions import ProcessingCancelled
from media_tasks.pipeline.hls import playlist_segments
from media_tasks.pipeline.lead import lead_rung, transcode_ladder_with_lead
from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.video import plan_ladder, transcode_ladder
from tests.media import make_video
from tests.playback import probe_url

LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)


def keyframe_times(path) -> list[float]:
    info = probe_url(str(path), "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries", "frame=pts_time")
    return [round(float(f["pts_time"]), 2) for f in info["frames"]]


def test_the_same_ladder_as_one_encode_gives(tmp_path):
    source = make_video(tmp_path / "src.mp4", width=854, height=480, duration=5.0)
    info = probe(source, LIMITS)
    rungs = plan_ladder(info, [480, 360, 240])
    assert lead_rung(rungs).name == "240p"
    apart = transcode_ladder_with_lead(source, info, rungs, tmp_path / "apart", hls_dir=tmp_path / "apart-hls")
    whole = transcode_ladder(source, info, rungs, tmp_path / "whole", hls_dir=tmp_path / "whole-hls")
    assert [v.name for v in apart] == [v.name for v in whole] == ["480p", "360p", "240p"]
    for a, w in zip(apart, whole, strict=True):
        assert (a.width, a.height, a.codecs) == (w.width, w.height, w.codecs)
        assert a.duration == pytest.approx(w.duration, abs=0.01)
        # Players switch between rungs at segment bounds: the keyframes fall at the same instants.
        assert keyframe_times(a.path) == keyframe_times(w.path)
        segments = [(tmp_path / d / a.name / "index.m3u8").read_text() for d in ("apart-hls", "whole-hls")]
        assert len(playlist_segments(segments[0])) == len(playlist_segments(segments[1]))


def test_a_cancel_of_the_rest_stops_the_lead_too(tmp_path):
    source = make_video(tmp_path / "src.mp4", width=854, height=480, duration=120.0, audio=False)
    info = probe(source, LIMITS)
    rungs = plan_ladder(info, [480, 360])

    def cancel(fraction: float) -> None:
        raise ProcessingCancelled("The job was stopped.")

    with pytest.raises(ProcessingCancelled, match="The job was stopped"):
        transcode_ladder_with_lead(source, info, rungs, tmp_path / "out", hls_dir=tmp_path / "hls", on_progress=cancel)
    # The lead was stopped long before its 120 s were encoded.
    assert "#EXT-X-ENDLIST" not in (tmp_path / "hls" / "360p" / "index.m3u8").read_text()


def test_a_single_rung_is_one_encode(tmp_path):
    source = make_video(tmp_path / "src.mp4", width=640, height=360, duration=2.0)
    info = probe(source, LIMITS)
    videos = transcode_ladder_with_lead(source, info, plan_ladder(info, [360]), tmp_path / "out")
    assert [(v.name, v.width, v.height) for v in videos] == [("360p", 640, 360)]
