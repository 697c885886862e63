"""The ladder as two encodes (pipeline.lead): the lead rung apart, ahead of the rest, with the
same streams a one-decode ladder gives, and a failure of either part stopping both."""

import threading

import pytest

from media_tasks.pipeline import pertitle
from media_tasks.pipeline.exceptions import ProcessingCancelled
from media_tasks.pipeline.hls import playlist_segments
from media_tasks.pipeline.lead import lead_rung, transcode_ladder_with_lead
from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.streams import transcode_ladder
from media_tasks.pipeline.video import plan_ladder
from tests.media import make_video
from tests.pipeline.cmaf_checks import check_ladder, fragment_starts, keyframe_times, keyframes_shown

LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)


def test_the_same_ladder_as_one_encode_gives(tmp_path):
    source = make_video(tmp_path / "src.mp4", width=854, height=480, duration=5.0)
    info = probe(source, LIMITS)
    rungs = plan_ladder(info, [480, 360, 240])
    lead = lead_rung(rungs)
    assert lead.name == "240p"
    apart = transcode_ladder_with_lead(source, info, rungs, tmp_path / "apart")
    together = transcode_ladder_with_lead(source, info, rungs, tmp_path / "together", apart=False)
    whole = transcode_ladder(source, info, rungs, tmp_path / "whole", segmented=[lead.name])
    for ladder in (apart, together, whole):
        check_ladder(ladder, audio=True)
        # The lead (and the sound) as segments, published while they grow; the rest one file each.
        assert [v.index.single_file for v in ladder.videos] == [True, True, False]
        assert not ladder.audio.index.single_file
        assert [v.name for v in ladder.describe()] == ["480p", "360p", "240p"]
    dw = whole.describe()
    for ladder in (apart, together):
        da = ladder.describe()
        assert [(v.width, v.height, v.codecs) for v in da] == [(v.width, v.height, v.codecs) for v in dw]
        assert [v.duration for v in da] == pytest.approx([v.duration for v in dw], abs=0.01)
        for a, w in zip(ladder.videos, whole.videos, strict=True):
            # Players switch between rungs at fragment bounds: the keyframes fall at the same instants.
            assert fragment_starts(a) == fragment_starts(w), a.stream
            assert keyframes_shown(a) == keyframes_shown(w), a.stream
            assert keyframe_times(a.local_file()) == pytest.approx(keyframe_times(w.local_file()), abs=0.001)
        segments = [(t.videos[-1].directory / "index.m3u8").read_text() for t in (ladder, whole)]
        assert len(playlist_segments(segments[0])) == len(playlist_segments(segments[1]))
        assert ladder.audio.index.duration_s == pytest.approx(whole.audio.index.duration_s, abs=0.03)


def test_a_cancel_of_the_rest_stops_the_lead_too(tmp_path):
    source = make_video(tmp_path / "src.mp4", width=854, height=480, duration=120.0, audio=False)
    info = probe(source, LIMITS)
    rungs = plan_ladder(info, [480, 360])

    def cancel(fraction: float) -> None:
        raise ProcessingCancelled("The job was stopped.")

    with pytest.raises(ProcessingCancelled, match="The job was stopped"):
        transcode_ladder_with_lead(source, info, rungs, tmp_path / "out", on_progress=cancel)
    # The lead was stopped long before its 120 s were encoded.
    playlist = tmp_path / "out" / lead_rung(rungs).stream.playlist
    assert "#EXT-X-ENDLIST" not in playlist.read_text()


def test_a_single_rung_is_one_encode(tmp_path):
    source = make_video(tmp_path / "src.mp4", width=640, height=360, duration=2.0)
    info = probe(source, LIMITS)
    ladder = transcode_ladder_with_lead(source, info, plan_ladder(info, [360]), tmp_path / "out")
    assert [(v.name, v.width, v.height) for v in ladder.describe()] == [("360p", 640, 360)]
    check_ladder(ladder, audio=True)


def test_a_cancel_during_the_ladder_analysis_stops_it_and_the_lead(tmp_path):
    src = make_video(tmp_path / "src.mp4", width=854, height=480, duration=8.0)
    info = probe(src, LIMITS)
    rungs = plan_ladder(info, [480, 360, 240])
    analysed: list[float] = []

    def choose(on_progress):
        def cancel_soon(fraction: float) -> None:
            analysed.append(fraction)
            on_progress(fraction)
            raise ProcessingCancelled("The job was stopped.")

        return pertitle.decide(src, info, rungs, tmp_path / "analysis", on_progress=cancel_soon).apply(rungs)

    with pytest.raises(ProcessingCancelled):
        transcode_ladder_with_lead(src, info, rungs, tmp_path / "out", choose=choose)
    assert analysed == [0.0], "the analysis reports no progress of its own, and stops at the first call"
    assert not (tmp_path / "analysis").exists()


@pytest.mark.parametrize("apart", [True, False])
def test_more_work_runs_on_the_callers_thread_once_the_rest_is_encoded_and_its_failure_stops_the_ladder(
    tmp_path, apart
):
    """`also` (the sound levelled: processing.loudness) uses the caller's database connection."""
    src = make_video(tmp_path / "src.mp4", width=640, height=360, duration=3.0)
    info = probe(src, LIMITS)
    rungs = plan_ladder(info, [360, 240])
    calls: list[tuple[str, bool]] = []

    def also(on_progress):
        on_progress(0.5)  # the stop check: the lead has not failed
        rest = tmp_path / f"out-{apart}" / rungs[0].stream.single_file
        calls.append((threading.current_thread().name, rest.exists()))

    transcode_ladder_with_lead(src, info, rungs, tmp_path / f"out-{apart}", apart=apart, also=also)
    assert calls == [(threading.main_thread().name, True)]

    def broken(on_progress):
        raise ProcessingCancelled("The job was stopped.")

    with pytest.raises(ProcessingCancelled):
        transcode_ladder_with_lead(src, info, rungs, tmp_path / f"broken-{apart}", apart=apart, also=broken)
