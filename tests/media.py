"""Test media made at test time: ffmpeg lavfi sources and Pillow drawings. No downloads."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import zlib
from pathlib import Path

import imageio_ffmpeg
from PIL import Image

FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]


def make_video(
    path: Path,
    *,
    width: int = 1920,
    height: int = 1080,
    duration: float = 2.0,
    rate: int | str = 30,
    audio: bool = True,
    rotate: int | None = None,
    black_lead_in: float = 0.0,
    tone: int = 440,
    noise: bool = False,
    gop: int | None = None,
    preset: str = "ultrafast",
    sound: str = "",
) -> Path:
    """An H.264 (+AAC) MP4 of testsrc2 (and a sine tone); `rotate` adds display-matrix metadata.
    The container follows the suffix (`.ts`: MPEG-TS); `gop` sets the keyframe interval in
    frames (x264's default is 250); `preset` trades making time for size (x264's presets).

    Equal arguments make equal bytes, which the platform treats as a duplicate
    upload: vary `tone` to get distinct files. `sound`: a lavfi audio graph instead of the tone
    (quiet_speech, for one).
    """
    video = f"testsrc2=size={width}x{height}:rate={rate}:duration={duration}"
    if noise:  # film-grain-like noise: much harder to encode than the clean pattern (benchmarks)
        video += ",noise=alls=12:allf=t+u"
    if black_lead_in:
        video = (
            f"color=black:size={width}x{height}:rate={rate}:duration={black_lead_in}[b];"
            f"{video}[t];[b][t]concat=n=2:v=1:a=0"
        )
    args = [*FFMPEG, "-f", "lavfi", "-i", video]
    if audio:
        tone_graph = f"sine=frequency={tone}:sample_rate=48000:duration={duration + black_lead_in}"
        args += ["-f", "lavfi", "-i", sound or tone_graph]
    args += ["-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p"]
    if gop:
        args += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    if audio:
        args += ["-c:a", "aac", "-shortest"]
    target = path if rotate is None else path.with_name(path.stem + "-plain.mp4")
    subprocess.run([*args, str(target)], check=True)
    if rotate is not None:
        # ffmpeg 5.1 writes the display matrix from the rotate tag on stream copy.
        subprocess.run(
            [*FFMPEG, "-i", str(target), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(path)],
            check=True,
        )
        target.unlink()
    return path


def quiet_speech(duration: float, level_db: float = -16.0, tone: int = 220) -> str:
    """A lavfi graph like a quiet voice: a tone swelling and fading twice a second over a little pink
    noise, about -42 LUFS at the default level (the issue's quiet upload), stereo at 48 kHz."""
    return (
        f"sine=frequency={tone}:sample_rate=48000:duration={duration},volume={level_db}dB,apulsator=hz=0.5[v];"
        f"anoisesrc=color=pink:amplitude=0.0005:duration={duration}:seed=7:sample_rate=48000[n];"
        "[v][n]amix=inputs=2:normalize=0,aformat=channel_layouts=stereo"
    )


def loudness(path_or_url: str | Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of the first audio stream, by ffmpeg's ebur128: an outside
    measurement, to hold the platform's against. A URL is read as a player would, with no cookie."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(path_or_url), "-map", "0:a:0"]
    graph = "aformat=sample_rates=48000:channel_layouts=stereo,ebur128=peak=true:framelog=verbose"
    done = subprocess.run([*cmd, "-af", graph, "-f", "null", "-"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-800:]
    summary = done.stderr[done.stderr.rindex("Summary:") :]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary)[1])
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)[1].replace("-inf", "-200"))
    return integrated, peak


def make_audio(path: Path, duration: float = 1.0) -> Path:
    subprocess.run([*FFMPEG, "-f", "lavfi", "-i", f"sine=duration={duration}", "-c:a", "aac", str(path)], check=True)
    return path


# How each accepted sound format is written, by its extension (the platform never looks at it).
SOUND_CODECS = {
    "wav": ["-c:a", "pcm_s16le"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
    "m4a": ["-c:a", "aac", "-b:a", "128k"],
    "aac": ["-c:a", "aac", "-b:a", "128k", "-f", "adts"],
    "flac": ["-c:a", "flac"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "4"],
    "opus": ["-c:a", "libopus", "-b:a", "96k", "-f", "ogg"],
}


def make_sound(path: Path, *, duration: float = 3.0, sound: str | None = None, cover: bool | Path = False) -> Path:
    """A sound alone in the format its suffix names (SOUND_CODECS), from a lavfi graph (a 330 Hz tone
    over pink noise, stereo 48 kHz, by default); `cover`: with a 600×600 cover picture in its tags,
    or that picture file's bytes as they are."""
    graph = sound or (
        f"sine=frequency=330:sample_rate=48000:duration={duration},volume=-12dB[t];"
        f"anoisesrc=color=pink:amplitude=0.01:duration={duration}:seed=3:sample_rate=48000[n];"
        "[t][n]amix=inputs=2:normalize=0,aformat=channel_layouts=stereo"
    )
    picture = ["-f", "lavfi", "-i", "testsrc2=size=600x600:duration=1"] if cover else []
    codec = ["-c:v", "mjpeg"]
    if isinstance(cover, Path):
        picture, codec = ["-i", str(cover)], ["-c:v", "copy"]
    maps = ["-map", "1:v", "-frames:v", "1", *codec, "-disposition:v", "attached_pic"] if cover else []
    tags = ["-id3v2_version", "3"] if cover and path.suffix == ".mp3" else []
    codec = SOUND_CODECS[path.suffix.lstrip(".")]
    cmd = [*FFMPEG, "-f", "lavfi", "-i", graph, *picture, "-map", "0:a", *maps, *codec, *tags, str(path)]
    subprocess.run(cmd, check=True)
    return path


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_format", "-show_streams", str(path)],
        check=True,
        capture_output=True,
    ).stdout
    return json.loads(out)


def streams(info: dict, kind: str) -> list[dict]:
    return [s for s in info["streams"] if s["codec_type"] == kind]


def moov_before_mdat(path: Path) -> bool:
    """True when the MP4's index comes first (faststart), read from the top-level boxes."""
    order = []
    with path.open("rb") as fh:
        while True:
            header = fh.read(8)
            if len(header) < 8:
                break
            size = int.from_bytes(header[:4], "big")
            box = header[4:8].decode("latin-1")
            if size == 1:
                size = int.from_bytes(fh.read(8), "big")
                fh.seek(size - 16, 1)
            elif size == 0:
                order.append(box)
                break
            else:
                fh.seek(size - 8, 1)
            order.append(box)
    return "moov" in order and "mdat" in order and order.index("moov") < order.index("mdat")


def quadrant_image(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Red top-left quadrant on blue, so orientation can be checked from pixels."""
    im = Image.new("RGB", (width, height), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, width // 2, height // 2))
    return im.convert(mode) if mode != "RGB" else im


def make_exif_rotated_jpeg(path: Path, width: int = 1600, height: int = 1200, orientation: int = 6) -> Path:
    im = quadrant_image(width, height)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"  # Make: must not survive into variants
    im.save(path, "JPEG", exif=exif.tobytes(), quality=90)
    return path


def make_cut_short_mp4(path: Path, *, duration: float, keep: float = 0.5, tone: int = 440, **video: object) -> Path:
    """A faststart MP4 (index first, as cameras and web exports write it) cut after `keep` of its
    bytes: the index still declares `duration`, the picture stops about halfway."""
    whole = make_video(path.with_name(path.stem + "-whole.mp4"), duration=duration, tone=tone, **video)
    faststart = path.with_name(path.stem + "-faststart.mp4")
    subprocess.run([*FFMPEG, "-i", str(whole), "-c", "copy", "-movflags", "+faststart", str(faststart)], check=True)
    data = faststart.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    whole.unlink()
    faststart.unlink()
    return path


def make_cut_short_avi(path: Path, *, duration: float, keep: float = 0.4, rate: int = 15) -> Path:
    """An MPEG-4 Part 2 AVI cut after `keep` of its bytes: its header still counts every frame,
    its index (at the end) is gone."""
    whole = path.with_name(path.stem + "-whole.avi")
    subprocess.run(
        [*FFMPEG, "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={rate}:duration={duration}",
         "-c:v", "mpeg4", "-q:v", "5", str(whole)],
        check=True,
    )  # fmt: skip
    data = whole.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    whole.unlink()
    return path


def make_sparse_avi(path: Path, *, duration: float = 30.0, rate: int = 15) -> Path:
    """A `rate` fps AVI whose frames are sparse, as screen recorders and old cameras write: runs
    of frames are missing and the rest carry jittered timestamps (empty chunks fill the gaps)."""
    subprocess.run(
        [*FFMPEG, "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={rate}:duration={duration}",
         "-vf", "select='not(between(mod(n\\,40)\\,5\\,37))',setpts='PTS+0.4*sin(N)/TB'",
         "-fps_mode", "vfr", "-c:v", "mpeg4", "-q:v", "5", str(path)],
        check=True,
    )  # fmt: skip
    return path


def vmaf_every_frame(rendition: Path, source: Path, log: Path, size: tuple[int, int]) -> float:
    """VMAF (model v0.6.1) of `rendition` against `source` over every frame, the rendition scaled
    bicubic to the source's `size`: an outside measurement, by the static ffmpeg of imageio-ffmpeg."""
    graph = (
        f"[0:v]scale={size[0]}:{size[1]}:flags=bicubic,setsar=1,format=yuv420p[d];[1:v]setsar=1,format=yuv420p[r];"
        f"[d][r]libvmaf=model=version=vmaf_v0.6.1:log_fmt=json:log_path={log}:n_threads=2"
    )
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(rendition), "-i", str(source)]
    done = subprocess.run([*cmd, "-lavfi", graph, "-f", "null", "-"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-800:]
    return json.loads(log.read_text())["pooled_metrics"]["vmaf"]["mean"]


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height but whose data is a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )
