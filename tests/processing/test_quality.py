"""The quality task after "Ready" (issue 30): VMAF beside SSIM on every video rung, a failed
VMAF costing only its figure, and a file replaced meanwhile left to its own job."""

import pytest

from media_tasks.models import JobEvent, Rendition
from media_tasks.pipeline.exceptions import ProcessingError
from media_tasks.processing import quality, workflow
from tests.playback import make_ready_video

pytestmark = pytest.mark.django_db


def _figures(asset) -> dict[str, tuple[float | None, float | None]]:
    return {r.profile: (r.ssim, r.vmaf) for r in asset.renditions.filter(kind=Rendition.Kind.MP4)}


def _notes(job) -> list[str]:
    return list(job.events.filter(stage=workflow.QUALITY, type=JobEvent.Type.NOTE).values_list("message", flat=True))


def test_vmaf_is_stored_on_every_rung_beside_ssim(user, fs_storage, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    job = asset.latest_job
    assert quality.job_measure_quality(job_id=job.id, worker="t")
    figures = _figures(asset)
    assert sorted(figures) == ["360p", "480p"]
    assert all(0.9 < ssim <= 1.0 and 80 < vmaf <= 100 for ssim, vmaf in figures.values()), figures
    assert figures["480p"][1] > figures["360p"][1], "the rung nearer the source's size scores higher"
    (note,) = _notes(job)
    assert "Quality measured (SSIM)" in note and "Quality measured (VMAF): 360p " in note, note
    assert not quality.job_measure_quality(job_id=job.id, worker="t"), "measured once"


def test_a_failed_vmaf_costs_only_its_figure_and_is_measured_alone_later(user, fs_storage, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    job = asset.latest_job

    def broken(*args, **kwargs):
        raise ProcessingError("The VMAF measurement could not be processed (ffmpeg: no libvmaf).")

    monkeypatch.setattr("media_tasks.pipeline.quality.measure_vmaf", broken)
    assert quality.job_measure_quality(job_id=job.id, worker="t"), "SSIM was stored"
    job.refresh_from_db()
    assert job.status == job.Status.SUCCEEDED and not job.error
    assert all(ssim and vmaf is None for ssim, vmaf in _figures(asset).values())
    (note,) = _notes(job)
    assert "Quality measured (SSIM)" in note and "Quality not measured (VMAF): " in note and "no libvmaf" in note

    monkeypatch.undo()
    ssim_runs = []
    monkeypatch.setattr("media_tasks.pipeline.quality.measure_ssim", lambda *a, **k: ssim_runs.append(a) or {})
    before = _figures(asset)
    assert quality.job_measure_quality(job_id=job.id, worker="t")
    assert ssim_runs == [], "only the missing figure is measured"
    after = _figures(asset)
    assert all(after[p][0] == before[p][0] and after[p][1] > 80 for p in after), after


def test_vmaf_off_measures_ssim_alone(user, fs_storage, monkeypatch, tmp_path, settings):
    settings.MEDIA_VMAF_WINDOWS = 0
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    assert quality.job_measure_quality(job_id=asset.latest_job.id, worker="t")
    assert all(ssim and vmaf is None for ssim, vmaf in _figures(asset).values())
    assert not quality.job_measure_quality(job_id=asset.latest_job.id, worker="t"), "nothing left to measure"


def test_a_file_replaced_while_it_was_measured_keeps_no_figure_of_the_old_one(user, fs_storage, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    real = quality.quality_ops.measure_vmaf

    def replaced_meanwhile(*args, **kwargs):
        # A re-encode stores a new 360p file (and clears its figures) while this one is measured.
        asset.renditions.filter(profile="360p").update(size_bytes=1, ssim=None, vmaf=None)
        return real(*args, **kwargs)

    monkeypatch.setattr("media_tasks.pipeline.quality.measure_vmaf", replaced_meanwhile)
    assert quality.job_measure_quality(job_id=asset.latest_job.id, worker="t")
    figures = _figures(asset)
    assert figures["360p"] == (None, None), "measured by the re-encode's own job"
    assert figures["480p"][1] > 80
