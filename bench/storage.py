"""Issue 29's storage section: what the ladder stores, before and after every stream is kept once.

Pipeline level, interleaved in one run on a generated 1080p30 source with sound (noisy picture and
noisy sound, so the bytes are realistic):
  before: today's layout (commit 188e298): every rung a faststart MP4 and MPEG-TS HLS, the sound
          muxed into each, made by today's ffmpeg command (copied below as the named baseline:
          the lead rung apart, the other rungs from one decode, as lead.py ran them);
  after:  the platform's own encode, whatever layout it writes now.
Stored bytes per source-hour, stored / one copy of the media, objects for a 10-minute source,
CPU-seconds (children's user + system) and wall time of the encode, medians over the reps.

Platform level (with `before_tree`, a checkout of 188e298 with its own .venv): the playable
bench's e2e run (a real worker, RabbitMQ, the API) on each checkout in turn, before, after,
before, after: time to first playable, time to ready and the worker's CPU-seconds; and on a short
1080p clip, ready time against today's plain one-decode ffmpeg ladder (issue 29: 0.89, ≤ 0.85).
Each pytest run has its own queue prefix (tests/settings.py), ports and worker name.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import LADDER, LIMITS, encode_cost, results
from media_tasks.pipeline.probe import SAFE_INPUT_OPTIONS, MediaInfo, probe
from tests.media import make_video

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "188e298"
BASELINE_LABEL = f"today's layout ({BASELINE}): per rung a faststart MP4 + MPEG-TS HLS, sound muxed into each"
PLAYABLE_TEST = "tests/e2e/test_playable_bench.py::test_time_to_playable"
SEGMENT_SUFFIXES = (".ts", ".m4s")  # the objects whose number grows with the source's length
TEN_MINUTES = 600.0


# --- The source ---------------------------------------------------------------------------------


def make_source(path: Path, seconds: float, width: int = 1920, height: int = 1080) -> Path:
    """testsrc2 with film-grain noise (moving, hard to compress) and a tone under pink noise:
    x264 and AAC spend real bits on both, as on a camera's upload."""
    video = f"testsrc2=size={width}x{height}:rate=30:duration={seconds},noise=alls=12:allf=t+u"
    audio = (
        f"sine=frequency=440:sample_rate=48000:duration={seconds}[t];"
        f"anoisesrc=color=pink:amplitude=0.2:sample_rate=48000:duration={seconds}[n];"
        "[t][n]amix=inputs=2,aformat=channel_layouts=stereo"
    )
    args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i", video]
    args += ["-f", "lavfi", "-i", audio, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18"]
    args += ["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", "-shortest", str(path)]
    subprocess.run(args, check=True)
    return path


# --- The baseline: today's encode, copied from 188e298's media_tasks/pipeline/video.py -----------


@dataclass(frozen=True)
class OldRung:
    name: str
    width: int
    height: int
    maxrate_kbps: int
    audio_kbps: int


def old_plan(info: MediaInfo, ladder: Sequence[int] = LADDER) -> list[OldRung]:
    """188e298's plan_ladder: rungs on the short side, largest first, even sizes, a peak rate of
    0.08 bits per pixel per frame, sound at 128 kb/s from 720p up and 96 kb/s below."""
    short = info.short_side
    heights = sorted({h for h in ladder if h <= short}, reverse=True) or [short - short % 2]
    fps = min(info.frame_rate or 30.0, 60)
    rungs = []
    for target in heights:
        width, height = (max(2, round(side * target / short / 2) * 2) for side in (info.width, info.height))
        peak = max(200, int(width * height * fps * 0.08 / 1000))
        rungs.append(OldRung(f"{target}p", width, height, peak, 128 if target >= 720 else 96))
    return rungs


def _old_filter_graph(rungs: Sequence[OldRung], info: MediaInfo) -> str:
    """The decoded picture split once; the rungs down to the largest one below the source scaled
    from it, the smaller ones from that rung's picture (188e298's _sized_pictures)."""
    shared = next((i for i, r in enumerate(rungs) if min(r.width, r.height) < info.short_side), None)
    from_source = len(rungs) if shared is None else shared + 1
    picture = f"[0:{info.video_stream_index}]" + ("fps=60," if (info.frame_rate or 30) > 60 else "")
    parts = [f"{picture}split={from_source}" + "".join(f"[src{i}]" for i in range(from_source))]
    final = {}
    for i, rung in enumerate(rungs[:from_source]):
        parts.append(f"[src{i}]scale={rung.width}:{rung.height},setsar=1[sized{i}]")
        final[i] = f"[sized{i}]"
    smaller = rungs[from_source:]
    if smaller:
        last = from_source - 1
        parts.append(f"[sized{last}]split={1 + len(smaller)}" + "".join(f"[fan{j}]" for j in range(1 + len(smaller))))
        final[last] = "[fan0]"
        for j, rung in enumerate(smaller, start=1):
            parts.append(f"[fan{j}]scale={rung.width}:{rung.height},setsar=1[sized{last + j}]")
            final[last + j] = f"[sized{last + j}]"
    parts += [f"{final[i]}format=pix_fmts=yuv420p[v{i}]" for i in range(len(rungs))]
    return ";".join(parts)


def _old_tee(rungs: Sequence[OldRung], bitrates: Sequence[int]) -> str:
    """188e298's ladder_tee/rendition_slaves: per rung a faststart MP4 and EVENT HLS of MPEG-TS
    segments (1 s first, then 2 s), each with the rung's picture and the sound at its bitrate."""
    slaves = []
    for i, rung in enumerate(rungs):
        select = "select=" + ",".join(map(str, [i] + ([len(rungs) + bitrates.index(rung.audio_kbps)] * bool(bitrates))))
        slaves.append(f"[f=mp4:{select}:onfail=abort:movflags=+faststart]{rung.name}.mp4")
        slaves.append(
            f"[f=hls:{select}:onfail=abort:hls_time=2:hls_init_time=1:hls_playlist_type=event"
            f":hls_flags=independent_segments+temp_file:hls_segment_type=mpegts"
            f":hls_segment_filename=hls/{rung.name}/seg_%05d.ts]hls/{rung.name}/index.m3u8"
        )
    return "|".join(slaves)


def old_ladder_command(src: Path, info: MediaInfo, rungs: Sequence[OldRung], out: Path) -> list[str]:
    """188e298's encode_ladder_command (libx264, whole file, no thumbnail frames), run in `out`."""
    for rung in rungs:
        (out / "hls" / rung.name).mkdir(parents=True, exist_ok=True)
    fps = min(info.frame_rate or 30.0, 60)
    gop = max(1, round(2 * fps))
    bitrates = sorted({r.audio_kbps for r in rungs}) if info.has_audio else []
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    for key, value in SAFE_INPUT_OPTIONS.items():
        cmd += [f"-{key}", value]
    cmd += ["-i", str(src.absolute()), "-filter_complex", _old_filter_graph(rungs, info)]
    for i in range(len(rungs)):
        cmd += ["-map", f"[v{i}]"]
    for _ in bitrates:
        cmd += ["-map", f"0:{info.audio_stream_index}"]
    if bitrates:
        cmd += ["-c:a", "aac", "-ac", "2", "-ar", "48000"]
        for j, kbps in enumerate(bitrates):
            cmd += [f"-b:a:{j}", f"{kbps}k"]
    keyframes = f"expr:if(lt(n_forced,2),gte(t,n_forced*1),not(mod(n,{gop})))"
    for i, rung in enumerate(rungs):
        cmd += [f"-c:v:{i}", "libx264", f"-preset:v:{i}", "veryfast", f"-crf:v:{i}", "23"]
        cmd += [f"-maxrate:v:{i}", f"{rung.maxrate_kbps}k", f"-bufsize:v:{i}", f"{2 * rung.maxrate_kbps}k"]
        cmd += [f"-g:v:{i}", str(gop), f"-keyint_min:v:{i}", str(gop), f"-sc_threshold:v:{i}", "0"]
        cmd += [f"-profile:v:{i}", "high", f"-force_key_frames:v:{i}", keyframes]
    cmd += ["-flags:v", "+global_header", "-flags:a", "+global_header", "-map_metadata", "-1"]
    cmd += ["-metadata:s:v", "rotate=0", "-t", f"{info.duration:.6f}", "-f", "tee", _old_tee(rungs, bitrates)]
    return cmd


def old_encode(src: Path, info: MediaInfo, out: Path, lead_apart: bool = True) -> None:
    """Today's ladder encode: the lead (lowest) rung by an ffmpeg of its own beside the other
    rungs, which run at niceness 10 (188e298's lead.py); or, without `lead_apart`, the whole
    ladder from one decode (the plain one-decode ladder the issue's short-source ratio divides by)."""
    out.mkdir(parents=True, exist_ok=True)
    rungs = old_plan(info)
    parts = [rungs[-1:], rungs[:-1]] if lead_apart and len(rungs) > 1 else [rungs]
    procs = [
        subprocess.Popen(
            old_ladder_command(src, info, part, out),
            cwd=out,
            preexec_fn=(lambda: os.nice(10)) if i else None,
        )
        for i, part in enumerate(parts)
    ]
    codes = [proc.wait() for proc in procs]
    if any(codes):
        raise RuntimeError(f"today's encode failed: {codes}")
    (out / "hls" / "master.m3u8").write_text(_old_master(rungs))


def _old_master(rungs: Sequence[OldRung]) -> str:
    """The shape of 188e298's master playlist (hls.write_hls_master): its bytes, near enough."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in rungs:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={r.maxrate_kbps * 1000},AVERAGE-BANDWIDTH={r.maxrate_kbps * 700},"
            f'RESOLUTION={r.width}x{r.height},CODECS="avc1.640028,mp4a.40.2"'
        )
        lines.append(f"{r.name}/index.m3u8")
    return "\n".join(lines) + "\n"


# --- After: the platform's own encode ------------------------------------------------------------


def new_encode(src: Path, info: MediaInfo, out: Path) -> list[Path] | None:
    """The platform's ladder encode as the worker runs it (no thumbnail frames: not media), then
    what the worker writes beside it to be stored: playlists, manifests, download plans. Returns
    the files the worker stores (processing.streams.streams_store), or None: everything in `out`."""
    from media_tasks.pipeline import video
    from media_tasks.pipeline.lead import transcode_ladder_with_lead

    out.mkdir(parents=True, exist_ok=True)
    rungs = video.plan_ladder(info, LADDER)
    try:
        from media_tasks.pipeline.streams import write_manifests
    except ImportError:  # 188e298's API: MP4s in `out`, HLS where `hls_dir` says
        transcode_ladder_with_lead(src, info, rungs, out, hls_dir=out / "hls")
        return None
    # As the worker decides (processing.transcode.lead_apart): a short source has no separate lead.
    apart = (info.duration or 0.0) > float(os.environ.get("MEDIA_LEAD_APART_MIN_S", "0"))
    ladder = transcode_ladder_with_lead(src, info, rungs, out, apart=apart)
    manifests = write_manifests(ladder)
    media = [p for s in [*ladder.videos, *([ladder.audio] if ladder.audio else [])] for p in s.media_files()]
    return [*media, *manifests.plans, *manifests.playlists, manifests.mpd, manifests.master]


# --- What a layout stores ------------------------------------------------------------------------


def stored_files(out: Path) -> list[Path]:
    """Every file of the layout an encode left in `out` that the platform stores for playback and
    downloads: not the thumbnail frames, not the joined copies made locally to describe a stream."""
    skip = {"frames", "joined"}
    return sorted(
        p for p in out.rglob("*") if p.is_file() and not skip & set(p.relative_to(out).parts) and p.suffix != ".tmp"
    )


def packet_bytes(path: Path, kind: str) -> int:
    """The bytes of the first `kind` ("v", "a") stream's packets in `path`: the media itself,
    without any container around it."""
    cmd = ["ffprobe", "-v", "error", "-select_streams", f"{kind}:0", "-show_entries", "packet=size"]
    out = subprocess.run([*cmd, "-of", "csv=p=0", str(path)], check=True, capture_output=True, text=True).stdout
    return sum(int(line.strip().rstrip(",")) for line in out.splitlines() if line.strip())


def one_copy_today(out: Path, audio_kbps: dict[str, int]) -> int:
    """Today's layout: every rung's picture once, plus the sound once at each bitrate (rung name →
    its bitrate: the sound is read from the first MP4 that carries it)."""
    total, bitrates = 0, set()
    for mp4 in sorted(out.glob("*.mp4")):
        total += packet_bytes(mp4, "v")
        if audio_kbps.get(mp4.stem) not in bitrates:
            bitrates.add(audio_kbps.get(mp4.stem))
            total += packet_bytes(mp4, "a")
    return total


def one_copy_cmaf(out: Path, tmp: Path) -> int:
    """The new layout: each stream directory (`video/<rung>-h264`, `audio/<k>-aac`) is one track:
    its single CMAF file, or its init and segments joined (ffprobe reads either)."""
    total = 0
    for directory in sorted(d for kind in ("video", "audio") for d in (out / kind).glob("*") if d.is_dir()):
        single = directory / f"{directory.name}.mp4"
        if not single.exists():
            single = tmp / f"joined-{directory.parent.name}-{directory.name}.mp4"
            with single.open("wb") as joined:
                for part in [directory / "init.mp4", *sorted(directory.glob("*.m4s"))]:
                    joined.write(part.read_bytes())
        total += packet_bytes(single, "v" if directory.parent.name == "video" else "a")
    return total


def layout_figures(out: Path, info: MediaInfo, tmp: Path, files: list[Path] | None) -> dict[str, float | str]:
    """Stored bytes (per source-hour too), one copy of the media, their ratio, and the objects a
    10-minute source would store: the fixed ones plus the segments scaled to its length. `files`:
    what is stored, if not every file in `out`."""
    if files is None:
        files = stored_files(out)
    elif extra := set(stored_files(out)) - set(files):
        print(f"  not stored (left in the work directory): {sorted(str(p) for p in extra)}", flush=True)
    cmaf = (out / "video").is_dir()
    stored = sum(p.stat().st_size for p in files)
    segments = [p for p in files if p.suffix in SEGMENT_SUFFIXES]
    seconds = info.duration or 1.0
    audio = {r.name: r.audio_kbps for r in old_plan(info)} if info.has_audio else {}
    one_copy = one_copy_cmaf(out, tmp) if cmaf else one_copy_today(out, audio)
    playlists = [p for p in files if p.suffix in (".m3u8", ".mpd", ".json")]
    return {
        "layout": "cmaf" if cmaf else "today",
        "stored_bytes": stored,
        "stored_gb_per_hour": stored * 3600 / seconds / 1e9,
        "one_copy_bytes": one_copy,
        "ratio": stored / one_copy,
        "segment_bytes": sum(p.stat().st_size for p in segments),
        "mp4_bytes": sum(p.stat().st_size for p in files if p.suffix == ".mp4"),
        "manifest_bytes": sum(p.stat().st_size for p in playlists),
        "objects": len(files),
        "objects_10min": objects_for(files, seconds, TEN_MINUTES),
    }


def objects_for(files: Sequence[Path], seconds: float, target: float) -> int:
    """The objects a `target`-second source would store: the same fixed ones, and in each segmented
    stream a first segment as long as this one's, then segments as long as its typical one (its
    playlist's median #EXTINF); a stream too short to tell is scaled by length."""
    segments = [p for p in files if p.suffix in SEGMENT_SUFFIXES]
    count = len(files) - len(segments)
    for directory in sorted({p.parent for p in segments}):
        found = sum(1 for p in segments if p.parent == directory)
        playlist = directory / "index.m3u8"
        text = playlist.read_text() if playlist.exists() else ""
        durations = [float(ln[8:].split(",")[0]) for ln in text.splitlines() if ln.startswith("#EXTINF:")]
        if len(durations) >= 3:
            count += 1 + math.ceil((target - durations[0]) / statistics.median(durations[1:-1]))
        else:
            count += round(found * target / seconds)
    return count


# --- The platform, before and after ---------------------------------------------------------------


def platform_run(tree: Path, clip: Path, backend: str, limit_s: float = 600) -> dict:
    """One upload through the playable bench's e2e test in the checkout `tree`, with its own
    python: its figures (playable_s, ready_s, ladder_s, worker_cpu_s). The pytest run picks its own
    queue prefix, ports, database and worker name, so two checkouts never share a job. Stopped
    (as by Ctrl-C, so that it stops its worker) after `limit_s`."""
    env = {k: v for k, v in os.environ.items() if k not in ("MEDIA_QUEUE_PREFIX", "PYTHONPATH")}
    env.update(MEDIA_BENCH="1", BENCH_CLIP=str(clip), BENCH_STORAGE=backend, BENCH_CANCEL="0")
    python = tree / ".venv" / "bin" / "python"
    cmd = [str(python), "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:logging", PLAYABLE_TEST]
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)  # pytest then stops its worker and moto_server (fixtures)
        stdout, stderr = proc.communicate(timeout=90)
    line = next((ln for ln in stdout.splitlines() if ln.startswith("BENCH ")), None)
    if proc.returncode or not line:
        raise RuntimeError(f"the platform run in {tree} failed:\n{stdout[-3000:]}\n{stderr[-1500:]}")
    return json.loads(line[6:])


def _platform_runs(trees: dict[str, Path], clip: Path, backend: str, reps: int, **extra: Callable) -> dict:
    """`reps` rounds of: each of `extra` (timed), then each checkout's platform run, interleaved."""
    runs: dict[str, list] = {name: [] for name in [*extra, *trees]}
    for rep in range(reps):
        for name, fn in extra.items():
            runs[name].append(encode_cost(fn))
        for name, tree in trees.items():
            try:
                runs[name].append(platform_run(tree, clip, backend, limit_s=120 + 6 * probe(clip, LIMITS).duration))
            except RuntimeError as exc:
                print(f"  {name}: {exc}", flush=True)
        print(f"  rep {rep + 1}: {json.dumps({k: v[-1] for k, v in runs.items() if v})}", flush=True)
    return runs


def _platform_medians(prefix: str, found: list[dict]) -> dict[str, float]:
    med = {}
    for figure in ("playable_s", "marked_s", "ready_s", "ladder_s", "worker_cpu_s"):
        values = [run[figure] for run in found if figure in run]
        if values:
            med[f"{prefix}_{figure}"] = statistics.median(values)
    return med


def platform_part(tmp: Path, reps: int, seconds: float, before_tree: Path, backend: str) -> dict[str, float]:
    """Time to first playable, to ready, and the worker's CPU-seconds, on each checkout."""
    clip = make_video(tmp / "storage-platform.mp4", width=1920, height=1080, duration=seconds, noise=True, tone=700)
    os.sync()
    runs = _platform_runs({"before": before_tree, "after": ROOT}, clip, backend, reps)
    section: dict[str, float] = {"platform_seconds": seconds}
    for name in ("before", "after"):
        section.update(_platform_medians(f"platform_{name}", runs[name]))
    return section


def short_part(tmp: Path, reps: int, seconds: float, before_tree: Path, backend: str) -> dict:
    """Ready time on a short 1080p clip against today's plain one-decode ffmpeg ladder (every
    rung as MP4 and HLS, one ffmpeg: bench.common.one_decode at 188e298), before and after."""
    clip = make_video(tmp / "storage-short.mp4", width=1920, height=1080, duration=seconds, noise=True, tone=660)
    info = probe(clip, LIMITS)
    os.sync()
    plain = {"one_decode": lambda: old_encode(clip, info, tmp / "storage-one-decode", lead_apart=False)}
    runs = _platform_runs({"before": before_tree, "after": ROOT}, clip, backend, reps, **plain)
    section: dict[str, float] = {"short_seconds": seconds}
    section["short_one_decode_s"] = statistics.median(wall for wall, _ in runs["one_decode"])
    section["short_one_decode_cpu_s"] = statistics.median(cpu for _, cpu in runs["one_decode"])
    for name in ("before", "after"):
        section.update(_platform_medians(f"short_{name}", runs[name]))
        if f"short_{name}_ready_s" in section:
            section[f"short_{name}_over_one_decode"] = section[f"short_{name}_ready_s"] / section["short_one_decode_s"]
    return section


# --- The section ----------------------------------------------------------------------------------


def pipeline_part(tmp: Path, reps: int, seconds: float, height: int = 1080) -> dict:
    """Today's encode and layout against the platform's, interleaved on one generated source."""
    src = make_source(tmp / "storage-source.mp4", seconds, width=height * 16 // 9 // 2 * 2, height=height)
    info = probe(src, LIMITS)
    os.sync()  # the first encode after a big write ran slower (bench/run.py): let it settle first
    encodes = {"before": lambda out: old_encode(src, info, out), "after": lambda out: new_encode(src, info, out)}
    runs: dict[str, list[dict]] = {name: [] for name in encodes}
    for rep in range(reps):
        for name, encode in encodes.items():
            out = tmp / f"storage-{name}{rep}"
            stored: list = []
            wall, cpu = encode_cost(lambda encode=encode, out=out, stored=stored: stored.append(encode(out)))
            runs[name].append({"wall_s": wall, "cpu_s": cpu, **layout_figures(out, info, tmp, stored[0])})
            shutil.rmtree(out)
            print(f"  rep {rep + 1} {name}: {json.dumps(runs[name][-1])}", flush=True)
    section: dict[str, float | str] = {"seconds": info.duration or seconds, "baseline": BASELINE_LABEL}
    section["after_code"] = checkout_state(ROOT)
    for name, found in runs.items():
        section[f"{name}_layout"] = found[-1]["layout"]
        for key in found[0]:
            if key != "layout":
                section[f"{name}_{key}"] = statistics.median(run[key] for run in found)
    section["stored_after_over_before"] = section["after_stored_bytes"] / section["before_stored_bytes"]
    section["cpu_after_over_before"] = section["after_cpu_s"] / section["before_cpu_s"]
    section["wall_after_over_before"] = section["after_wall_s"] / section["before_wall_s"]
    return section


def bench_storage(
    tmp: Path,
    reps: int,
    seconds: float,
    before_tree: str | None = None,
    platform_seconds: float = 60.0,
    short_seconds: float = 10.0,
    backend: str = "s3",
) -> None:
    """The pipeline part always; the platform parts where a checkout of the baseline is given
    (`before_tree` "auto": a git worktree of it in `tmp`, with this checkout's .venv, removed after)."""
    section = pipeline_part(tmp, reps, seconds)
    missing = []
    if before_tree is None:
        missing.append("platform before/after (no --before-tree)")
    else:
        tree = baseline_worktree(tmp / "before") if before_tree == "auto" else Path(before_tree).resolve()
        try:
            section["backend"] = backend
            if short_seconds:
                section.update(short_part(tmp, reps, short_seconds, tree, backend))
            if platform_seconds:
                section.update(platform_part(tmp, reps, platform_seconds, tree, backend))
        finally:
            if before_tree == "auto":
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    if section["after_layout"] != "cmaf":
        missing.append("the new layout: 'after' ran an encode that still writes today's layout")
    section["missing"] = missing
    results["storage"] = section


def checkout_state(tree: Path) -> str:
    """The commit `tree` is at, and whether its code had changes not committed yet (media_tasks/)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "media_tasks"], cwd=tree, capture_output=True, text=True)
    return head.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def baseline_worktree(path: Path) -> Path:
    """A checkout of the baseline commit at `path` that runs with this checkout's virtualenv."""
    subprocess.run(["git", "worktree", "add", "--detach", str(path), BASELINE], cwd=ROOT, check=True)
    (path / ".venv").symlink_to(ROOT / ".venv")
    return path
