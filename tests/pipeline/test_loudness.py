"""Loudness (pipeline/loudness.py): measured as ffmpeg's ebur128 measures it, the sound encoded again
at the target within 1 LU with true peaks at or under -1 dBTP (held against this test's own
ebur128 run), in the same segments as the ladder's sound, and the rules on their own."""

from pathlib import Path

import pytest

from media_tasks.pipeline import loudness, video
from media_tasks.pipeline.exceptions import ProcessingError
from media_tasks.pipeline.loudness import Loudness, Plan
from media_tasks.pipeline.probe import probe
from media_tasks.pipeline.streams import index_stream
from tests.media import loudness as outside_loudness
from tests.media import make_video, quiet_speech
from tests.pipeline.test_video import LIMITS

TARGET = -16.0


def _source(tmp_path: Path, name: str, sound: str, duration: float = 6.0):
    src = make_video(tmp_path / f"{name}.mp4", width=320, height=240, duration=duration, sound=sound)
    return src, probe(src, LIMITS)


def _levelled(src: Path, info, out: Path, chosen: Plan) -> Path:
    stream = video.ladder_sound(info)
    loudness.encode_sound(src, info, stream, out, chosen)
    return index_stream(out, stream).local_file()


def test_a_quiet_voice_is_measured_as_ebur128_does_and_raised_to_the_target(tmp_path):
    src, info = _source(tmp_path, "quiet", quiet_speech(6.0))
    measured = loudness.measure(src, info)
    ours = outside_loudness(src)
    assert measured.integrated_lufs == pytest.approx(ours[0], abs=0.2) and measured.integrated_lufs < -40
    chosen = loudness.plan(measured, TARGET)
    assert chosen.encode and chosen.gain_db == pytest.approx(TARGET - measured.integrated_lufs)
    integrated, peak = outside_loudness(_levelled(src, info, tmp_path / "out", chosen))
    assert abs(integrated - TARGET) <= 1.0 and peak <= -1.0, (integrated, peak)


def test_peaks_the_gain_pushes_over_the_ceiling_are_limited_and_a_second_pass_makes_up_what_it_missed(tmp_path):
    # A quiet tone with loud clicks: +10 dB to the target puts the clicks 9 dB over full scale.
    clicks = (
        "aevalsrc=0.05*sin(2*PI*300*t)*lt(mod(t\\,1)\\,0.7)+0.7*lt(mod(t\\,0.5)\\,0.002)"
        ":d=6:s=48000,aformat=channel_layouts=stereo"
    )
    src, info = _source(tmp_path, "clicks", clicks)
    measured = loudness.measure(src, info)
    first = loudness.plan(measured, TARGET)
    assert first.limit, first
    result = loudness.measure(_levelled(src, info, tmp_path / "first", first))
    # The limiter took 3 LU with the clicks, and AAC's overshoot put their peaks back near full scale.
    second = loudness.corrected(first, result, TARGET)
    assert second is not None and second.gain_db > first.gain_db, (result, second)
    integrated, peak = outside_loudness(_levelled(src, info, tmp_path / "second", second))
    assert abs(integrated - TARGET) <= 1.0 and peak <= -1.0, (integrated, peak)


def test_the_levelled_sound_has_the_segments_of_the_ladders_sound(tmp_path):
    """It replaces the sound the lead's encode published: the same names, each as long."""
    src, info = _source(tmp_path, "segments", quiet_speech(9.0), duration=9.0)
    rungs = video.plan_ladder(info, [240])
    video.encode_ladder(src, info, rungs, tmp_path / "lead", segmented=[rungs[0].name])
    stream = video.ladder_sound(info)
    loudness.encode_sound(src, info, stream, tmp_path / "level", loudness.plan(loudness.measure(src, info), TARGET))
    lead, level = index_stream(tmp_path / "lead", stream), index_stream(tmp_path / "level", stream)
    assert [(f.file, f.duration) for f in level.index.fragments] == [(f.file, f.duration) for f in lead.index.fragments]
    assert len(lead.index.fragments) == 5


def test_a_silent_track_is_measured_and_kept_not_raised_into_noise(tmp_path):
    src, info = _source(tmp_path, "hush", "anullsrc=r=48000:cl=stereo")
    measured = loudness.measure(src, info)
    chosen = loudness.plan(measured, TARGET)
    assert measured.integrated_lufs <= loudness.NEAR_SILENCE_LUFS and not chosen.encode
    assert "near-silence" in chosen.note


def test_a_file_without_sound_is_a_processing_error(tmp_path):
    src = make_video(tmp_path / "mute.mp4", width=320, height=240, duration=1.0, audio=False)
    with pytest.raises(ProcessingError, match="sound"):
        loudness.measure(src)


@pytest.mark.parametrize(
    ("measured", "target", "encode", "gain", "limit"),
    [
        (Loudness(-42.0, -30.0), TARGET, True, 26.0, False),  # a quiet voice: raised, no peak near the ceiling
        (Loudness(-20.0, -3.0), TARGET, True, 4.0, True),  # peaks 1 dB over: the limiter
        (Loudness(-8.0, 0.5), TARGET, True, -8.0, False),  # too loud: lowered
        (Loudness(-16.3, -2.0), TARGET, False, 0.0, False),  # close enough: kept as encoded
        (Loudness(-16.3, -0.5), TARGET, True, 0.3, True),  # close, but its peaks are over the ceiling
        (Loudness(-62.0, -40.0), TARGET, False, 0.0, False),  # near-silence
        (Loudness(-42.0, -30.0), None, False, 0.0, False),  # normalisation off
    ],
)
def test_the_plan(measured, target, encode, gain, limit):
    chosen = loudness.plan(measured, target)
    assert (chosen.encode, chosen.gain_db, chosen.limit) == (encode, pytest.approx(gain), limit), chosen
    assert chosen.note


def test_a_second_pass_only_for_a_result_short_of_the_target_or_over_the_ceiling():
    first = loudness.plan(Loudness(-30.0, -20.0), TARGET)
    assert loudness.corrected(first, Loudness(-16.4, -5.0), TARGET) is None
    short = loudness.corrected(first, Loudness(-17.5, -2.0), TARGET)
    assert (short.gain_db, short.limit_dbtp) == (pytest.approx(first.gain_db + 1.5), loudness.LIMIT_DBTP)
    over = loudness.corrected(first, Loudness(-16.2, -0.7), TARGET)
    assert (over.gain_db, over.limit_dbtp) == (
        pytest.approx(first.gain_db + 0.2),
        pytest.approx(loudness.LIMIT_DBTP - 0.8),
    )


def test_the_summary_is_read_from_the_end_of_the_log():
    log = "t: 1 I: -70.0 LUFS\n  Summary:\n\n  Integrated loudness:\n    I:   -23.4 LUFS\n    Peak:   -inf dBFS\n"
    assert loudness.parse_summary(log) == Loudness(-23.4, -70.0)
    with pytest.raises(ProcessingError):
        loudness.parse_summary("nothing")
