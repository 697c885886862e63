"""Encoder detection and the decode benchmark, with the machine's ffmpeg and with a fake one."""

import os
import shutil
from pathlib import Path

import pytest

from media_tasks.pipeline.encoders import (
    CPU_ENCODER,
    EncoderProfile,
    benchmark_hw_decode,
    detect_encoders,
    find_capabilities,
    list_encoders,
)

FAKE = str(Path(__file__).resolve().parent.parent / "fakes" / "ffmpeg")


@pytest.fixture
def fake_ffmpeg(monkeypatch):
    monkeypatch.setenv("FAKE_FFMPEG_REAL", shutil.which("ffmpeg"))

    def use(nvenc: str = "fail", hwdecode: str = "fail") -> str:
        monkeypatch.setenv("FAKE_NVENC", nvenc)
        monkeypatch.setenv("FAKE_HWDECODE", hwdecode)
        return FAKE

    return use


def test_real_ffmpeg_detection_refuses_what_cannot_open():
    """On this GPU-less box every listed hardware encoder must fail its test encode, with a reason."""
    report = detect_encoders()
    assert CPU_ENCODER in report.usable
    assert "libx264" in list_encoders()
    for check in report.checks:
        if check.listed and not check.usable:
            assert check.reason, check
    if not Path("/dev/nvidia0").exists() and not Path("/dev/dri").exists():
        assert report.gpu_encoder is None
        assert report.usable == [CPU_ENCODER]


def test_listed_nvenc_that_fails_its_test_encode_means_cpu_only(fake_ffmpeg):
    capabilities = find_capabilities(ffmpeg=fake_ffmpeg("fail"))
    assert capabilities.gpu_encoder is None and capabilities.encoder == CPU_ENCODER
    nvenc = next(c for c in capabilities.report["checks"] if c["name"] == "h264_nvenc")
    assert nvenc["listed"] and not nvenc["usable"]
    assert "Driver does not support the required nvenc API version" in nvenc["reason"]
    assert "no hardware encoder passed" in capabilities.reason


def test_nvenc_that_passes_its_test_encode_is_used(fake_ffmpeg):
    capabilities = find_capabilities(ffmpeg=fake_ffmpeg("pass"))
    assert capabilities.gpu_encoder == "h264_nvenc"
    assert "passed a test encode" in capabilities.reason


def test_settings_can_force_or_disable_gpu_encoding(fake_ffmpeg):
    forced = find_capabilities(gpu_mode="force", ffmpeg=fake_ffmpeg("fail"))
    assert forced.gpu_encoder == "h264_nvenc" and "forced" in forced.reason
    assert find_capabilities(gpu_mode="force", forced_encoder="h264_qsv", ffmpeg=FAKE).gpu_encoder == "h264_qsv"
    off = find_capabilities(gpu_mode="off", ffmpeg=fake_ffmpeg("pass"))
    assert off.gpu_encoder is None and off.report == {}


@pytest.mark.parametrize(("mode", "use_hw"), [("fast", True), ("slow", False), ("fail", False)])
def test_gpu_decode_is_chosen_only_when_measured_faster(fake_ffmpeg, mode, use_hw):
    choice = benchmark_hw_decode(ffmpeg=fake_ffmpeg(hwdecode=mode), seconds=1.0)
    assert choice.use_hw is use_hw
    assert choice.cpu_seconds is not None and choice.cpu_seconds > 0
    if mode == "fail":
        assert choice.hw_seconds is None and "Operation not permitted" in choice.reason
    else:
        assert choice.hw_seconds is not None and ("won" in choice.reason) is use_hw


def test_real_ffmpeg_decode_benchmark_falls_back_to_cpu_without_a_gpu():
    choice = benchmark_hw_decode(seconds=1.0)
    if not Path("/dev/nvidia0").exists():
        assert not choice.use_hw and choice.reason


def test_profiles_map_x264_settings_onto_each_encoder():
    common = {"preset": "veryfast", "crf": 23, "maxrate_kbps": 2000, "gop": 60}
    x264 = EncoderProfile("libx264").output_args(**common)
    assert (x264["c:v"], x264["preset"], x264["crf"], x264["maxrate"]) == ("libx264", "veryfast", 23, "2000k")
    nvenc = EncoderProfile("h264_nvenc").output_args(**common)
    assert (nvenc["preset"], nvenc["rc"], nvenc["cq"], nvenc["maxrate"], nvenc["g"]) == ("p3", "vbr", 25, "2000k", 60)
    qsv = EncoderProfile("h264_qsv").output_args(**common)
    assert (qsv["preset"], qsv["global_quality"], qsv["maxrate"]) == ("veryfast", 23, "2000k")
    vaapi = EncoderProfile("h264_vaapi")
    assert vaapi.output_args(**common)["qp"] == 25 and vaapi.global_args()[0] == "-vaapi_device"
    assert [f for f, _ in vaapi.upload_filters()] == ["format", "hwupload"]
    assert EncoderProfile("h264_qsv").global_args()[:2] == ["-init_hw_device", "qsv=hw"]


def test_ladder_through_the_fake_gpu_makes_valid_cmaf_streams(fake_ffmpeg, landscape_1080p, tmp_path, monkeypatch):
    """The GPU command line (NVENC profile) runs end to end; the fake does the encoding with libx264."""
    from media_tasks.pipeline.probe import ProbeLimits, probe
    from media_tasks.pipeline.streams import transcode_ladder
    from media_tasks.pipeline.video import EncodeSettings, plan_ladder
    from tests.pipeline.cmaf_checks import check_ladder

    monkeypatch.setenv("PATH", f"{Path(FAKE).parent}:{os.environ['PATH']}")
    fake_ffmpeg("pass")
    info = probe(landscape_1080p, ProbeLimits(max_duration_s=60, max_pixels=10**8))
    ladder = transcode_ladder(
        landscape_1080p, info, plan_ladder(info, [360]), tmp_path, settings=EncodeSettings(encoder="h264_nvenc")
    )
    assert [(v.width, v.height, v.video_codec) for v in ladder.describe()] == [(640, 360, "h264")]
    check_ladder(ladder, audio=True)


def test_runtime_gpu_failure_is_a_hardware_error_not_a_bad_file(fake_ffmpeg, landscape_1080p, tmp_path, monkeypatch):
    from media_tasks.pipeline.exceptions import HardwareEncoderError, PipelineError
    from media_tasks.pipeline.probe import ProbeLimits, probe
    from media_tasks.pipeline.streams import transcode_ladder
    from media_tasks.pipeline.video import EncodeSettings, plan_ladder

    monkeypatch.setenv("PATH", f"{Path(FAKE).parent}:{os.environ['PATH']}")
    fake_ffmpeg("runtime-fail")
    info = probe(landscape_1080p, ProbeLimits(max_duration_s=60, max_pixels=10**8))
    with pytest.raises(HardwareEncoderError) as caught:
        transcode_ladder(
            landscape_1080p, info, plan_ladder(info, [360]), tmp_path, settings=EncodeSettings(encoder="h264_nvenc")
        )
    assert not isinstance(caught.value, PipelineError)
