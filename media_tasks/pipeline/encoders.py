"""Which H.264 encoders this box can really use, and how each one is driven.

`ffmpeg -encoders` is only a list of what ffmpeg was built with: Debian's ffmpeg
lists h264_nvenc on machines without any GPU, and an H100 (video decoders, no NVENC
engine) lists it and fails to open it. So every hardware candidate gets a real
one-second test encode before a worker offers to do GPU work.

Encoder profiles map the libx264 settings (preset, CRF, peak rate) onto each
hardware encoder so that renditions made on CPU and GPU boxes are comparable.
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .runner import QUIET_ARGS

logger = logging.getLogger(__name__)

CPU_ENCODER = "libx264"
# Probed in this order; the first usable H.264 one becomes the worker's GPU encoder.
HARDWARE_CANDIDATES = ("h264_nvenc", "hevc_nvenc", "av1_nvenc", "h264_vaapi", "h264_qsv")
H264_HARDWARE = ("h264_nvenc", "h264_vaapi", "h264_qsv")
VAAPI_DEVICE = "/dev/dri/renderD128"
TEST_TIMEOUT_S = 30

# x264 preset → NVENC preset (p1 fastest … p7 best), matched on speed/quality.
# https://docs.nvidia.com/video-technologies/video-codec-sdk/12.0/ffmpeg-with-nvidia-gpu/
_NVENC_PRESETS = {
    "ultrafast": "p1",
    "superfast": "p2",
    "veryfast": "p3",
    "faster": "p4",
    "fast": "p4",
    "medium": "p5",
    "slow": "p6",
    "slower": "p7",
    "veryslow": "p7",
}
# QSV takes x264's preset names except the two fastest.
_QSV_PRESETS = {"ultrafast": "veryfast", "superfast": "veryfast"}


@dataclass(frozen=True)
class EncoderProfile:
    """How to feed and drive one encoder: global args, the filter tail, and output args."""

    name: str

    @property
    def is_hardware(self) -> bool:
        return self.name != CPU_ENCODER

    def global_args(self) -> list[str]:
        if self.name.endswith("_vaapi"):
            return ["-vaapi_device", VAAPI_DEVICE]
        if self.name.endswith("_qsv"):
            return ["-init_hw_device", "qsv=hw", "-filter_hw_device", "hw"]
        return []

    def upload_filters(self) -> list[tuple[str, dict[str, Any]]]:
        """Filters after scaling that put frames where the encoder wants them."""
        if self.name.endswith("_vaapi"):
            return [("format", {"pix_fmts": "nv12"}), ("hwupload", {})]
        if self.name.endswith("_qsv"):
            return [("format", {"pix_fmts": "nv12"}), ("hwupload", {"extra_hw_frames": 64})]
        return [("format", {"pix_fmts": "yuv420p"})]

    def output_args(self, *, preset: str, crf: float, maxrate_kbps: int, gop: int) -> dict[str, Any]:
        rate = {"maxrate": f"{maxrate_kbps}k", "bufsize": f"{maxrate_kbps * 2}k"}
        gop_args = {"g": gop, "keyint_min": gop}
        if self.name == CPU_ENCODER:
            return {
                "c:v": "libx264",
                "preset": preset,
                "crf": crf,
                "profile:v": "high",
                "sc_threshold": 0,
                **gop_args,
                **rate,
            }
        if self.name.endswith("_nvenc"):
            # Constant quality with a peak cap, like CRF + maxrate; CQ sits about 2 above CRF.
            return {
                "c:v": self.name,
                "preset": _NVENC_PRESETS.get(preset, "p4"),
                "tune": "hq",
                "rc": "vbr",
                "cq": crf + 2,
                "b:v": 0,
                "no-scenecut": 1,
                "g": gop,
                **rate,
                **({"profile:v": "high"} if self.name == "h264_nvenc" else {}),
            }
        if self.name.endswith("_vaapi"):
            # Constant QP is the one rate control every VA-API driver has.
            return {"c:v": self.name, "rc_mode": "CQP", "qp": crf + 2, "profile:v": "high", **gop_args}
        if self.name.endswith("_qsv"):
            return {
                "c:v": self.name,
                "preset": _QSV_PRESETS.get(preset, preset),
                "global_quality": crf,
                "look_ahead": 0,
                "profile:v": "high",
                **gop_args,
                **rate,
            }
        raise ValueError(f"no profile for encoder {self.name}")


@dataclass(frozen=True)
class EncoderCheck:
    name: str
    listed: bool
    usable: bool
    reason: str = ""


@dataclass(frozen=True)
class EncoderReport:
    checks: tuple[EncoderCheck, ...] = field(default_factory=tuple)

    @property
    def usable(self) -> list[str]:
        return [c.name for c in self.checks if c.usable]

    @property
    def gpu_encoder(self) -> str | None:
        """The hardware H.264 encoder the ladder would use, if any passed its test encode."""
        return next((name for name in H264_HARDWARE if name in self.usable), None)

    def as_dict(self) -> dict[str, Any]:
        return {"checks": [asdict(c) for c in self.checks], "usable": self.usable, "gpu_encoder": self.gpu_encoder}


def list_encoders(ffmpeg: str = "ffmpeg") -> set[str]:
    """Names from `ffmpeg -encoders` (lines like ` V....D h264_nvenc  NVIDIA NVENC ...`)."""
    proc = subprocess.run(
        [ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=TEST_TIMEOUT_S, check=False
    )
    names = set()
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS" and parts[0] != "------":
            names.add(parts[1])
    return names


def filter_string(name: str, options: dict[str, Any]) -> str:
    """One filter as ffmpeg's command line writes it: `format=pix_fmts=nv12`, `hwupload`."""
    return f"{name}={':'.join(f'{k}={v}' for k, v in options.items())}" if options else name


def test_encode_command(name: str, ffmpeg: str = "ffmpeg") -> list[str]:
    profile = EncoderProfile(name)
    tail = ",".join(filter_string(f, kw) for f, kw in profile.upload_filters())
    output = profile.output_args(preset="veryfast", crf=23, maxrate_kbps=1000, gop=30)
    args = [
        ffmpeg,
        *QUIET_ARGS,
        *profile.global_args(),
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30:duration=1",
        "-vf",
        tail,
    ]
    for key, value in output.items():
        args += [f"-{key}", str(value)]
    return [*args, "-f", "null", "-"]


def test_encode(name: str, ffmpeg: str = "ffmpeg") -> tuple[bool, str]:
    """A real one-second encode with `name`; (True, "") or (False, ffmpeg's last error line)."""
    try:
        proc = subprocess.run(
            test_encode_command(name, ffmpeg), capture_output=True, text=True, timeout=TEST_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return False, f"test encode did not finish in {TEST_TIMEOUT_S}s"
    except OSError as exc:
        return False, str(exc)
    if proc.returncode == 0:
        return True, ""
    return False, first_error_line(proc.stderr) or f"exit status {proc.returncode}"


def first_error_line(stderr: str) -> str:
    """ffmpeg's first complaint is the specific one ("Cannot load libcuda.so.1"); later lines are generic."""
    for line in stderr.splitlines():
        line = re.sub(r"^\[[^\]]+ @ 0x[0-9a-f]+\]\s*", "", line.strip())
        if line:
            return line[:300]
    return ""


def detect_encoders(ffmpeg: str = "ffmpeg", candidates: Sequence[str] = HARDWARE_CANDIDATES) -> EncoderReport:
    """Test-encode every listed hardware candidate; log why each unusable one is refused."""
    listed = list_encoders(ffmpeg)
    checks = [
        EncoderCheck(
            CPU_ENCODER,
            CPU_ENCODER in listed,
            CPU_ENCODER in listed,
            "" if CPU_ENCODER in listed else "not in `ffmpeg -encoders`",
        )
    ]
    for name in candidates:
        if name not in listed:
            checks.append(EncoderCheck(name, False, False, "not in `ffmpeg -encoders`"))
            continue
        ok, reason = test_encode(name, ffmpeg)
        checks.append(EncoderCheck(name, True, ok, reason))
        if ok:
            logger.info("encoder %s: test encode passed", name)
        else:
            logger.info("encoder %s is listed but unusable: %s", name, reason)
    return EncoderReport(tuple(checks))


@dataclass(frozen=True)
class DecodeChoice:
    """Whether to decode and scale on the GPU (NVDEC + scale_cuda), from a measurement."""

    use_hw: bool
    cpu_seconds: float | None
    hw_seconds: float | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_hwaccels(ffmpeg: str = "ffmpeg") -> set[str]:
    proc = subprocess.run(
        [ffmpeg, "-hide_banner", "-hwaccels"], capture_output=True, text=True, timeout=TEST_TIMEOUT_S, check=False
    )
    return {line.strip() for line in proc.stdout.splitlines()[1:] if line.strip()}


def decode_benchmark_commands(src: Path, encoder: str, ffmpeg: str = "ffmpeg") -> tuple[list[str], list[str]]:
    """A three-rung ladder from one decode, all-CPU and NVDEC+scale_cuda, writing nowhere."""
    profile = EncoderProfile(encoder)
    rungs = ((1280, 720), (854, 480), (640, 360))
    out = profile.output_args(preset="veryfast", crf=23, maxrate_kbps=3000, gop=60)
    out_args = [arg for key, value in out.items() for arg in (f"-{key}", str(value))]
    split = f"[0:v]split={len(rungs)}" + "".join(f"[s{i}]" for i in range(len(rungs)))

    def command(hw: bool) -> list[str]:
        chains = []
        for i, (w, h) in enumerate(rungs):
            if hw:
                tail = f"scale_cuda={w}:{h}" + ("" if encoder.endswith("_nvenc") else ",hwdownload,format=nv12")
            else:
                tail = f"scale={w}:{h},format=yuv420p"
            chains.append(f"[s{i}]{tail}[o{i}]")
        graph = ";".join([split, *chains])
        args = [ffmpeg, *QUIET_ARGS]
        if hw:
            args += ["-hwaccel", "cuda", "-hwaccel_output_format", "cuda"]
        args += ["-i", str(src), "-filter_complex", graph]
        for i in range(len(rungs)):
            args += ["-map", f"[o{i}]", *out_args, "-f", "null", "-"]
        return args

    return command(False), command(True)


def benchmark_hw_decode(encoder: str = CPU_ENCODER, ffmpeg: str = "ffmpeg", seconds: float = 3.0) -> DecodeChoice:
    """Time the CPU and the NVDEC ladder on a generated 1080p clip; use the GPU only if it wins by 10%."""
    if "cuda" not in list_hwaccels(ffmpeg):
        return DecodeChoice(False, None, None, "ffmpeg has no cuda hwaccel")
    with tempfile.TemporaryDirectory(prefix="decode-bench-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        made = subprocess.run(
            [
                ffmpeg,
                *QUIET_ARGS,
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                str(clip),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if made.returncode != 0:
            return DecodeChoice(False, None, None, "could not make the benchmark clip")
        cpu_cmd, hw_cmd = decode_benchmark_commands(clip, encoder, ffmpeg)
        timings = {}
        for label, cmd in (("cpu", cpu_cmd), ("hw", hw_cmd)):
            started = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
            if proc.returncode != 0:
                if label == "cpu":
                    return DecodeChoice(False, None, None, "the CPU benchmark ladder failed")
                error = first_error_line(proc.stderr) or "failed"
                return DecodeChoice(False, timings["cpu"], None, f"NVDEC ladder failed: {error}")
            timings[label] = round(time.perf_counter() - started, 3)
    faster = timings["hw"] < 0.9 * timings["cpu"]
    return DecodeChoice(
        faster,
        timings["cpu"],
        timings["hw"],
        f"NVDEC+scale_cuda {'won' if faster else 'did not win'}: {timings['hw']:.2f}s vs {timings['cpu']:.2f}s on CPU",
    )


@dataclass(frozen=True)
class WorkerCapabilities:
    """What one worker will do: its encoder for GPU work (None: CPU only) and whether to decode on the GPU."""

    gpu_encoder: str | None = None
    hw_decode: bool = False
    reason: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    decode: dict[str, Any] = field(default_factory=dict)

    @property
    def encoder(self) -> str:
        return self.gpu_encoder or CPU_ENCODER

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkerCapabilities:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def nvidia_device_present() -> bool:
    """Cheap check before any CUDA benchmark: a CPU box should not pay for one at start-up."""
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/version").exists()


def find_capabilities(
    *, gpu_mode: str = "auto", forced_encoder: str = "", decode_mode: str = "auto", ffmpeg: str = "ffmpeg"
) -> WorkerCapabilities:
    """Decide what this worker offers, from real test encodes and a decode benchmark.

    gpu_mode: "auto" (a test encode must pass), "force" (trust the operator), "off".
    decode_mode: "auto" (benchmark on NVIDIA boxes), "force", "off".
    """
    if gpu_mode == "off":
        return WorkerCapabilities(reason="GPU encoding disabled (MEDIA_GPU_ENCODE=off)")
    report = detect_encoders(ffmpeg)
    if gpu_mode == "force":
        encoder = forced_encoder or report.gpu_encoder or H264_HARDWARE[0]
        reason = f"GPU encoding forced (MEDIA_GPU_ENCODE=force) with {encoder}"
    else:
        encoder = report.gpu_encoder
        if encoder:
            reason = f"{encoder} passed a test encode"
        else:
            refused = [f"{c.name}: {c.reason}" for c in report.checks if c.listed and not c.usable]
            reason = "no hardware encoder passed a test encode" + (f" ({'; '.join(refused)})" if refused else "")
    if decode_mode == "off":
        decode = DecodeChoice(False, None, None, "GPU decoding disabled (MEDIA_HW_DECODE=off)")
    elif decode_mode == "force":
        decode = DecodeChoice(True, None, None, "GPU decoding forced (MEDIA_HW_DECODE=force)")
    elif not nvidia_device_present():
        decode = DecodeChoice(False, None, None, "no NVIDIA device")
    else:
        decode = benchmark_hw_decode(encoder or CPU_ENCODER, ffmpeg)
    return WorkerCapabilities(
        gpu_encoder=encoder, hw_decode=decode.use_hw, reason=reason, report=report.as_dict(), decode=decode.as_dict()
    )
