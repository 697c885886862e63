"""The H.264/AAC ladder: planned in Python, encoded by one ffmpeg process into CMAF streams, each once."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from . import thumbnails
from .encoders import CPU_ENCODER, EncoderProfile
from .exceptions import HardwareEncoderError, ProcessingError
from .identity import Stream, audio_stream, video_stream
from .integrity import declared_duration
from .probe import SAFE_INPUT_OPTIONS, MediaInfo
from .renditions import require_written
from .runner import QUIET_ARGS, ProgressCallback, run_ffmpeg
from .tee import GOP_SECONDS, HLS_FIRST_SEGMENT_SECONDS, cmaf_tee, piece_slave

MAX_FPS = 60
# Bits per pixel per frame for the peak-rate cap: ~5 Mb/s at 1080p30, ~2.2 at 720p30.
PEAK_BITS_PER_PIXEL = 0.08
CRF = 23
# The sound, encoded once for every rung: AAC-LC stereo (Apple's HLS authoring spec's baseline).
AAC_OPTIONS = {"c:a": "aac", "ac": 2, "ar": 48000}
AUDIO_KBPS = 128


@dataclass(frozen=True)
class Rung:
    name: str
    width: int
    height: int
    maxrate_kbps: int
    crf: float | None = None  # None: the encode's own (EncodeSettings.crf); pertitle.py sets it

    @property
    def stream(self) -> Stream:
        return video_stream(self.name)


@dataclass(frozen=True)
class EncodeSettings:
    preset: str = "veryfast"
    crf: float = CRF
    encoder: str = CPU_ENCODER
    # Decode and scale on the GPU (NVDEC + scale_cuda); only where a worker measured it faster.
    hw_decode: bool = False
    # x264 threads per encode (0: x264 decides). Pinned to 1 to measure scaling across workers.
    threads: int = 0


@dataclass(frozen=True)
class Span:
    """A stretch of the source in its own timestamps (seconds); `end` None runs to the end.
    `seek`: a source keyframe at or before `start` to decode from (None: from the beginning,
    which is always right and slow; see chunks.plan_chunks)."""

    start: float
    end: float | None = None
    seek: float | None = None
    # The first span starts where a whole-file encode does, and gets its keyframes (forced_keyframes).
    first: bool = False


def ladder_sound(info: MediaInfo) -> Stream | None:
    """The sound every rung plays with, encoded once (None for a silent source)."""
    return audio_stream(AUDIO_KBPS) if info.has_audio else None


def keyframe_interval(frame_rate: float | None) -> float:
    """Seconds from one of the ladder's keyframes to the next: GOP_SECONDS in whole frames, as
    the encode counts them (60 frames at 29.97 fps last 2.002 s), so that chunk cuts, which
    must fall on keyframes, stay on a whole-file encode's grid however long the source."""
    fps = min(frame_rate or 30.0, MAX_FPS)
    return _gop_frames(fps) / fps


def _gop_frames(fps: float) -> int:
    return max(1, round(GOP_SECONDS * fps))


def forced_keyframes(fps: float) -> str:
    """x264's keyframes for a whole-file encode: at 0 and HLS_FIRST_SEGMENT_SECONDS (the short first
    segment), then on the GOP grid in whole frames (every _gop_frames, as keyframe_interval counts
    them). Forcing the grid too keeps it: x264 counts its GOP from the last keyframe, forced or not."""
    return f"expr:if(lt(n_forced,2),gte(t,n_forced*{HLS_FIRST_SEGMENT_SECONDS}),not(mod(n,{_gop_frames(fps)})))"


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def plan_ladder(info: MediaInfo, ladder: Sequence[int]) -> list[Rung]:
    """Rungs for `info`, largest first: never above the source, aspect kept, even sizes.

    A rung is measured on the short side, so 720 means 1280×720 landscape and
    720×1280 portrait. A source below the lowest rung gets one rung at its own size.
    """
    short = info.short_side
    heights = sorted({h for h in ladder if h <= short}, reverse=True) or [short - short % 2]
    fps = min(info.frame_rate or 30.0, MAX_FPS)
    rungs = []
    for short_target in heights:
        scale = short_target / short
        width, height = _even(info.width * scale), _even(info.height * scale)
        peak = width * height * fps * PEAK_BITS_PER_PIXEL / 1000
        rungs.append(
            Rung(
                name=f"{short_target}p",
                width=width,
                height=height,
                maxrate_kbps=max(200, int(peak)),
            )
        )
    return rungs


def encode_ladder_command(
    src: Path,
    info: MediaInfo,
    rungs: Sequence[Rung],
    out_dir: Path,
    settings: EncodeSettings,
    *,
    span: Span | None = None,
    segmented: Collection[str] = (),
    sound: bool = True,
    frames_dir: Path | None = None,
) -> list[str]:
    """One ffmpeg command, run in `out_dir`: decode once, `split` the picture, encode every rung
    into its CMAF stream under `out_dir` (identity.py's layout: one file per rung, or segments for
    the rungs named in `segmented`, which are published while they grow), with `sound` the sound
    once, segmented too (ladder_sound). With `frames_dir`, the same decode also writes the frames
    for the poster and the sprite there (thumbnails.frame_outputs), unless it is a span or
    decodes on the GPU.

    With `span`, only that stretch of the picture is encoded, without sound, into `<rung>.mp4`
    (a chunk of a chunked encode): the input is seeked to a keyframe before it, and `trim` cuts
    on the source's own timestamps (`-copyts`), so consecutive spans share no frame and
    miss none. The seek is on the source's clock too (`-seek_timestamp`; by default `-ss`
    counts from the container's start, which is 1.4 s into an MPEG-TS file), and ffmpeg's
    own cut at the seek point is off (`-noaccurate_seek`; with `-copyts` it cuts at the
    container-relative time instead), so `trim` alone decides.

    ffmpeg turns rotated sources upright itself (autorotate), so the sizes in
    `rungs`, which are display sizes, come out as planned. That rotation runs on
    the CPU, so rotated sources never take the GPU decode path.
    """
    profile = EncoderProfile(settings.encoder)
    hw_decode = settings.hw_decode and info.rotation == 0
    source, picture, fps = _decoded_picture(src, info, settings, span, hw_decode)
    with_frames = frames_dir is not None and span is None and not hw_decode
    branches = thumbnails.FRAME_BRANCHES if with_frames else 0
    sized, frame_branches = _sized_pictures(picture, rungs, info, hw_decode, branches)
    outputs = thumbnails.frame_outputs(frame_branches, info, frames_dir, out_dir) if with_frames else []
    pictures = [_for_encoder(sized[i], profile, hw_decode) for i in range(len(rungs))]
    options = _rung_options(rungs, profile, settings, fps, span)
    if span is not None:  # chunks are picture only, and end by their trim
        spec = "|".join(piece_slave(out_dir / f"{rung.name}.mp4", out_dir, i) for i, rung in enumerate(rungs))
        outputs.append(_ladder_output(pictures, options, None, spec))
    else:
        audio = ladder_sound(info) if sound else None
        layout = [rung.stream for rung in rungs if rung.name in segmented] + ([audio] if audio else [])
        spec = cmaf_tee([rung.stream for rung in rungs], audio, out_dir, layout)
        track = None
        if audio:
            # The sound starts with the picture, padded with silence if the source's starts later:
            # a CMAF track keeps its start delay only in an edit list, which MSE players ignore
            # (and +cmaf drops), so sound 0.5 s late in the source would otherwise play 0.5 s early.
            track = source[str(info.audio_stream_index)].filter("aresample", first_pts=0)
        outputs.append(_ladder_output(pictures, options, track, spec, declared_duration(info)))
    cmd = ffmpeg.merge_outputs(*outputs).compile(cmd="ffmpeg")
    cmd[1:1] = [*QUIET_ARGS, *profile.global_args(), *(["-copyts"] if span is not None else [])]
    if settings.threads:
        cmd[1:1] = ["-filter_threads", str(settings.threads)]
    return cmd


def _rung_options(
    rungs: Sequence[Rung], profile: EncoderProfile, settings: EncodeSettings, fps: float, span: Span | None
) -> dict[str, Any]:
    """Every rung's encoder options, each as a per-stream (`:v:<i>`) ffmpeg option."""
    options: dict[str, Any] = {}
    for i, rung in enumerate(rungs):
        args = profile.output_args(
            preset=settings.preset,
            crf=settings.crf if rung.crf is None else rung.crf,
            maxrate_kbps=rung.maxrate_kbps,
            gop=_gop_frames(fps),
        )
        if settings.threads and profile.name == CPU_ENCODER:
            args["threads"] = settings.threads
        if span is None or span.first:  # later chunks start on the grid; only the first has a short segment
            args["force_key_frames"] = forced_keyframes(fps)
        options.update({f"{key.split(':')[0]}:v:{i}": value for key, value in args.items()})
    return options


def _decoded_picture(
    src: Path, info: MediaInfo, settings: EncodeSettings, span: Span | None, hw_decode: bool
) -> tuple[Any, Any, float]:
    """The input (for its sound), its picture (a span's stretch of it, at most MAX_FPS), and that frame rate."""
    input_options = dict(SAFE_INPUT_OPTIONS)
    if settings.threads:  # one worker, one core: the decoder too
        input_options["threads"] = settings.threads
    if hw_decode:
        input_options.update(hwaccel="cuda", hwaccel_output_format="cuda")
    if span is not None and span.seek is not None and span.seek > 0:
        # A millisecond past the keyframe: ffprobe prints times rounded to the microsecond.
        input_options.update(ss=f"{span.seek + 0.001:.6f}", seek_timestamp=1, noaccurate_seek=None)
    source = ffmpeg.input(str(src), **input_options)
    picture = source[str(info.video_stream_index)]
    if span is not None:
        # Half a frame before each cut, so that a frame on the cut goes to the later span
        # whatever the rounding of its timestamp.
        early = 0.5 / (info.frame_rate or 30.0)
        bounds = {"start": span.start - early}
        if span.end is not None:
            bounds["end"] = span.end - early
        picture = picture.filter("trim", **bounds).filter("setpts", "PTS-STARTPTS")
    fps = info.frame_rate or 30.0
    if fps > MAX_FPS:
        picture = picture.filter("fps", MAX_FPS)
        fps = MAX_FPS
    return source, picture, fps


def _sized_pictures(
    picture: Any, rungs: Sequence[Rung], info: MediaInfo, hw_decode: bool, frame_branches: int
) -> tuple[list[Any], list[Any]]:
    """The picture scaled to every rung (the smaller rungs from the shared rung's picture, not the
    source's), and `frame_branches` more copies of the decoded picture for the thumbnails."""
    shared = None if hw_decode else _shared_scale(rungs, info)
    from_source = len(rungs) if shared is None else shared + 1
    copies = picture.filter_multi_output("split", from_source + frame_branches)
    branches = [copies.stream(from_source + i) for i in range(frame_branches)]
    sized = [_resized(copies.stream(i), rung, hw_decode) for i, rung in enumerate(rungs[:from_source])]
    smaller = rungs[from_source:]
    if smaller:  # from the shared rung's picture, the last of those scaled from the source
        fan = sized[-1].filter_multi_output("split", 1 + len(smaller))
        sized[-1] = fan.stream(0)
        sized += [_resized(fan.stream(1 + i), rung, hw_decode) for i, rung in enumerate(smaller)]
    return sized, branches


def _ladder_output(
    pictures: Sequence[ffmpeg.nodes.FilterableStream],
    options: dict[str, object],
    sound: ffmpeg.nodes.FilterableStream | None,
    spec: str,
    length: float | None = None,
) -> ffmpeg.nodes.OutputStream:
    """One output for the whole ladder, fanned out by the tee muxer (`spec`): each stream's files
    select its picture, or the sound (the last stream), so every packet is written once.
    `options` are the pictures' encoder options, per stream.

    With `length` (s), the output ends there, where the source says it ends: ffmpeg's constant
    frame rate output otherwise pads a sparse source's last frames past its end."""
    audio = {"b:a": f"{AUDIO_KBPS}k", **AAC_OPTIONS} if sound is not None else {}
    return ffmpeg.output(
        *pictures,
        *([sound] if sound is not None else []),
        spec,
        **options,
        **audio,
        **({"t": f"{length:.6f}"} if length else {}),
        # The tee muxer cannot ask the encoders for what its MP4 needs: codec headers out
        # of band (avcC). A stream copy keeps its own.
        **{"f": "tee", "flags:v": "+global_header", "flags:a": "+global_header"},
        **{"map_metadata": -1, "metadata:s:v": "rotate=0"},
    )


def _shared_scale(rungs: Sequence[Rung], info: MediaInfo) -> int | None:
    """The rung the smaller rungs are scaled from: the largest one below the source's size.

    Scaling 480p and 360p from the 720p picture instead of from 1080p takes 5% off the
    ladder's CPU (half of its scaling) with the same SSIM after x264 (README, benchmarks),
    and no rung is resampled more than twice. On the GPU scaling costs little: each
    rung is scaled from the source there."""
    return next((i for i, rung in enumerate(rungs) if min(rung.width, rung.height) < info.short_side), None)


def _resized(picture: ffmpeg.nodes.FilterableStream, rung: Rung, hw_decode: bool) -> ffmpeg.nodes.FilterableStream:
    """`picture` at one rung's size (on the GPU with `hw_decode`)."""
    if hw_decode:
        return picture.filter("scale_cuda", rung.width, rung.height)
    return picture.filter("scale", rung.width, rung.height).filter("setsar", 1)


def _for_encoder(
    picture: ffmpeg.nodes.FilterableStream, profile: EncoderProfile, hw_decode: bool
) -> ffmpeg.nodes.FilterableStream:
    """A rung's picture put where its encoder reads it."""
    if hw_decode:
        if profile.name.endswith("_nvenc"):  # NVENC reads CUDA frames where they are
            return picture
        picture = picture.filter("hwdownload").filter("format", "nv12")
    for name, options in profile.upload_filters():
        picture = picture.filter(name, **options)
    return picture


def encode_ladder(
    src: Path,
    info: MediaInfo,
    rungs: Sequence[Rung],
    out_dir: Path,
    *,
    settings: EncodeSettings | None = None,
    on_progress: ProgressCallback | None = None,
    timeout: float | None = None,
    span: Span | None = None,
    segmented: Collection[str] = (),
    sound: bool = True,
    frames_dir: Path | None = None,
    niceness: int = 0,
) -> dict[str, Path]:
    """Encode all `rungs` from one decode of `src` into their CMAF streams under `out_dir` (and
    the sound, and the thumbnail frames: see encode_ladder_command), at a lower CPU priority
    with `niceness` (runner.run_ffmpeg). Returns each stream's directory (its identity's,
    `video/720p-h264`) → that directory under `out_dir`.

    With `span`, returns rung name → that span's piece (`out_dir/<rung>.mp4`), each written and
    not empty: the join reads them and its output is measured, so an ffprobe of each piece would
    only cost time."""
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = settings or EncodeSettings()
    cmd = encode_ladder_command(
        src.absolute(),
        info,
        rungs,
        out_dir,
        settings,
        span=span,
        segmented=segmented,
        sound=sound,
        frames_dir=frames_dir,
    )
    length = info.duration if span is None else ((span.end or info.duration or 0) - span.start) or None
    try:
        run_ffmpeg(cmd, duration=length, on_progress=on_progress, timeout=timeout, cwd=out_dir, niceness=niceness)
    except ProcessingError as exc:
        if EncoderProfile(settings.encoder).is_hardware or settings.hw_decode:
            raise HardwareEncoderError(f"{settings.encoder} (hw decode {settings.hw_decode}): {exc}") from exc
        raise
    if span is not None:
        pieces = {rung.name: out_dir / f"{rung.name}.mp4" for rung in rungs}
        for name, path in pieces.items():
            require_written(name, path)
        return pieces
    audio = ladder_sound(info) if sound else None
    streams = [rung.stream for rung in rungs] + ([audio] if audio else [])
    return {s.directory: out_dir / s.directory for s in streams}
