"""The sound levelled in the transcode stage (processing/loudness.py): recorded once per job, and a
sound that cannot be measured or levelled keeps the level the ladder's encode gave it, the job
going on."""

from media_tasks.pipeline import loudness as loudness_ops
from media_tasks.pipeline.exceptions import ProcessingError
from media_tasks.processing import loudness
from tests.playback import make_ready_video


def _notes(asset) -> list[str]:
    return [m for m in asset.latest_job.events.values_list("message", flat=True) if m.startswith("Loudness")]


def test_a_levelled_sound_is_recorded_with_what_it_measured(user, fs_storage, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    record = asset.latest_job.loudness
    assert record["target_lufs"] == -16.0 and record["gain_db"] > 0, record
    assert abs(record["output"]["integrated_lufs"] + 16.0) <= 1.0 and record["output"]["true_peak_dbtp"] <= -1.0
    assert _notes(asset) == [f"Loudness: {loudness.summary(record)}"]


def test_a_sound_that_cannot_be_levelled_keeps_its_level_and_the_job_goes_on(user, fs_storage, monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise ProcessingError("The sound could not be processed (ffmpeg: Invalid data found).")

    monkeypatch.setattr(loudness_ops, "encode_sound", broken)
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, tone=523)
    record = asset.latest_job.loudness
    assert record["output"] is None and record["gain_db"] == 0.0
    assert record["note"].startswith("kept at its level: encoding it again failed (The sound could not")
    assert asset.latest_job.status == "succeeded"


def test_a_sound_that_cannot_be_measured_keeps_its_level_and_says_why(user, fs_storage, monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise ProcessingError("The sound's loudness could not be measured (no ebur128 summary).")

    monkeypatch.setattr(loudness_ops, "measure", broken)
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, tone=587)
    assert asset.latest_job.loudness == {
        "target_lufs": -16.0,
        "note": "not measured: The sound's loudness could not be measured (no ebur128 summary).",
    }
    assert _notes(asset) == ["Loudness: not measured: The sound's loudness could not be measured (no ebur128 summary)."]
    assert asset.latest_job.status == "succeeded"
