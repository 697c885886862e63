"""`make bench`: the platform measured against raw ffmpeg and naive code, side by side in one run.

Every comparison runs its contenders interleaved (A, B, A, B, ...) on the same
generated inputs, so machine noise hits both alike; the ratios are the result,
absolute times are context. Writes docs/benchmarks.md and docs/benchmarks.png.

    .venv/bin/python bench/run.py [--reps 2] [--only ladder playable images chunks streaming throughput web gpu]

`--only storage` (issue 29): the bytes and objects today's layout stores against the new one's on a
1-minute 1080p source, and with `--before-tree DIR` (a checkout of 188e298 with its own .venv; `auto`:
a git worktree made and removed by the run) the platform's times before and after, interleaved.

`--only quality` (issue 30): "quality per bit", today's fixed ladder against the per-title one on six
generated clips of different difficulty: bytes and VMAF per rung, and the analysis's CPU cost.

`--only loudness` (issue 31): the loudness measurement and the levelled sound in CPU-seconds per
source minute and as a share of the job, and time to first playable with loudness off and on.

`--only manycore gpu` is for a many-core (GPU) box: chunked layouts that fill every core
against one whole-file encode, and the worker's own hardware-encoder and NVDEC checks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageOps  # noqa: E402

from bench.chunked import bench_chunks, bench_manycore, cpu_model  # noqa: E402
from bench.common import LADDER, LIMITS, interleave, one_decode, results, timed  # noqa: E402
from bench.gpu import bench_gpu  # noqa: E402
from bench.loudness import bench_loudness  # noqa: E402
from bench.playable import bench_playable  # noqa: E402
from bench.quality_per_bit import bench_quality  # noqa: E402
from bench.report import plot, report  # noqa: E402
from bench.storage import bench_storage  # noqa: E402
from media_tasks.pipeline import images, video  # noqa: E402
from media_tasks.pipeline.probe import probe  # noqa: E402
from tests.media import make_video  # noqa: E402

WIDTHS = [320, 640, 1280, 2048]
# The sections whose contenders run --reps times (the others run once).
REPEATED = {"ladder", "images", "chunks", "streaming", "playable", "storage", "loudness"}


# --- (a) (b) (c): the ladder --------------------------------------------------------


def per_rung(clip: Path, out: Path) -> None:
    """(b): the naive way, one ffmpeg (one decode) per rung, each writing its MP4 and HLS."""
    info = probe(clip, LIMITS)
    out.mkdir(parents=True, exist_ok=True)
    for rung in video.plan_ladder(info, LADDER):
        cmd = video.encode_ladder_command(clip.absolute(), info, [rung], out, video.EncodeSettings())
        subprocess.run(cmd, check=True, cwd=out)


def platform(seconds: float, noise: bool = True) -> tuple[float, float]:
    """Upload accepted (202) → job ready: renditions, HLS, poster and sprite stored, through RabbitMQ,
    a real worker and moto S3 (the e2e test, which generates the same clip). Also returns when
    the SSIM figures, measured after the job is ready, were stored."""
    env = {**os.environ, "E2E_CLIP_SECONDS": str(seconds), "E2E_CLIP_NOISE": "1" if noise else "0"}
    test = "tests/e2e/test_upload_to_renditions.py::test_video_upload_becomes_a_playable_ladder_on_s3"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:logging", test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    ready = re.search(r"job succeeded in ([\d.]+)s", proc.stdout)
    ssim = re.search(r"SSIM stored ([\d.]+)s after", proc.stdout)
    if proc.returncode != 0 or not ready or not ssim:
        sys.exit(f"the end-to-end run failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return float(ready.group(1)), float(ssim.group(1))


def bench_ladder(tmp: Path, reps: int, seconds: float) -> None:
    """(a), (b) and (c) write the same renditions: every rung as MP4 and as HLS."""
    clip = make_video(tmp / "clip.mp4", width=1920, height=1080, duration=seconds, noise=True)
    raw: dict[str, list[float]] = {"a": [], "b": [], "c": [], "ssim": []}
    # Not timed: the first encode after the clip is written ran up to 20% slower (2 of 4 runs).
    one_decode(clip, tmp / "warm-up")
    for rep in range(reps):
        raw["a"].append(timed(lambda rep=rep: one_decode(clip, tmp / f"a{rep}")))
        raw["b"].append(timed(lambda rep=rep: per_rung(clip, tmp / f"b{rep}")))
        ready, measured = platform(seconds)
        raw["c"].append(ready)
        raw["ssim"].append(measured)
        print(f"  rep {rep + 1}: (a) {raw['a'][-1]:.2f}s (b) {raw['b'][-1]:.2f}s (c) {raw['c'][-1]:.2f}s", flush=True)
    med = {k: statistics.median(v) for k, v in raw.items()}
    short = make_video(tmp / "short.mp4", width=1920, height=1080, duration=2.0, noise=True)
    short_a, short_c = [], []
    for _ in range(reps):
        short_a.append(timed(lambda: one_decode(short, tmp / "sa")))
        short_c.append(platform(2.0)[0])
    results["ladder"] = {
        "seconds": seconds,
        **{f"{k}_s": v for k, v in med.items()},
        "c_over_a": med["c"] / med["a"],
        "b_over_c": med["b"] / med["c"],
        "b_over_a": med["b"] / med["a"],
        "short_a_s": statistics.median(short_a),
        "short_c_s": statistics.median(short_c),
        "fixed_overhead_s": statistics.median(short_c) - statistics.median(short_a),
    }


# --- Images ---------------------------------------------------------------------------


def naive_variants(src: Path, out: Path) -> None:
    """Open → resize (LANCZOS) → save, per width, with the same encoder settings as the project."""
    out.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:  # decode the full 12 MP picture again for every width
        with Image.open(src) as opened:
            im = ImageOps.exif_transpose(opened).convert("RGB")
            small = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
            for fmt, ext in images.FORMATS:  # the project's encoder settings, for a fair comparison
                images._save(small, out / f"{width}.{ext}", fmt)


def vips_variants(src: Path, out: Path) -> None:
    import pyvips

    out.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:  # thumbnail() shrinks on load (JPEG DCT scaling), like our draft() path
        thumb = pyvips.Image.thumbnail(str(src), width).copy_memory()  # saved twice: keep it decoded
        thumb.jpegsave(str(out / f"{width}.jpg"), Q=85, keep=0)
        thumb.webpsave(str(out / f"{width}.webp"), Q=80, keep=0)


def bench_images(tmp: Path, reps: int) -> None:
    sources = []
    for i in range(3):
        path = tmp / f"photo{i}.jpg"
        base = Image.effect_mandelbrot((4000, 3000), (-2.2 + i * 0.1, -1.2, 1.0, 1.2), 80).convert("RGB")
        grain = Image.effect_noise((4000, 3000), 40).convert("RGB")
        Image.blend(base, grain, 0.25).save(path, quality=92)
        sources.append(path)
    contenders = {
        "naive": lambda: [naive_variants(s, tmp / "naive") for s in sources],
        "project": lambda: [images.make_image_variants(s, tmp / "proj", WIDTHS, max_pixels=10**9) for s in sources],
    }
    try:
        import pyvips  # noqa: F401

        contenders["pyvips"] = lambda: [vips_variants(s, tmp / "vips") for s in sources]
    except ImportError:
        print("  pyvips not installed: skipped")
    med = interleave(reps, **contenders)
    results["images"] = {
        **{f"{k}_s": v for k, v in med.items()},
        "naive_over_project": med["naive"] / med["project"],
        **({"project_over_pyvips": med["project"] / med["pyvips"]} if "pyvips" in med else {}),
    }


# --- Throughput, broker overhead, memory ------------------------------------------------


def bench_throughput(jobs: int) -> None:
    found = {}
    for workers in (1, 2):
        env = {**os.environ, "MEDIA_BENCH": "1", "BENCH_WORKERS": str(workers), "BENCH_JOBS": str(jobs)}
        cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:logging"]
        proc = subprocess.run(
            [*cmd, "tests/e2e/test_throughput.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")), None)
        if proc.returncode or not line:
            sys.exit(f"throughput run failed:\n{proc.stdout[-3000:]}")
        found[workers] = json.loads(line[6:])
    results["throughput"] = {
        "jobs": jobs,
        "one_worker_s": found[1]["elapsed_s"],
        "two_workers_s": found[2]["elapsed_s"],
        "speedup": found[1]["elapsed_s"] / found[2]["elapsed_s"],
        "task_overhead_ms": statistics.median(
            [found[1]["task_overhead_ms_median"], found[2]["task_overhead_ms_median"]]
        ),
        "worker_peak_mib": max(found[1]["worker_peak_mib"], found[2]["worker_peak_mib"]),
    }


def bench_web_memory(tmp: Path) -> None:
    """Peak memory of a gunicorn web worker (the Procfile's command) while it takes a big upload."""
    proc = subprocess.run(
        [sys.executable, "bench/web_memory.py", str(tmp)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if proc.returncode or not line:
        print(f"  web memory run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return
    results["web"] = json.loads(line[6:])


# --- Streaming the source vs downloading it first -------------------------------------------


def bench_streaming(tmp: Path, reps: int, seconds: float) -> None:
    """From S3 (moto_server): download with boto3's managed transfer then encode, vs ffmpeg reading
    a presigned URL itself (HTTP allowed in the protocol whitelist for that input only)."""
    import socket

    import boto3

    from media_tasks.pipeline.probe import SAFE_INPUT_OPTIONS

    clip = make_video(tmp / "s3clip.mp4", width=1920, height=1080, duration=seconds, noise=True, tone=600)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="x",
            aws_secret_access_key="x",  # noqa: S106 (moto accepts any key)
            region_name="us-east-1",
        )
        for _ in range(50):
            try:
                client.create_bucket(Bucket="bench")
                break
            except Exception:
                time.sleep(0.2)
        client.upload_file(str(clip), "bench", "clip")
        info = probe(clip, LIMITS)
        rungs = video.plan_ladder(info, LADDER)

        def download_then_encode() -> None:
            local = tmp / "downloaded.mp4"
            client.download_file("bench", "clip", str(local))
            cmd = video.encode_ladder_command(local.absolute(), info, rungs, tmp / "dl", video.EncodeSettings())
            subprocess.run(cmd, check=True, cwd=tmp / "dl")

        def stream() -> None:
            url = client.generate_presigned_url("get_object", Params={"Bucket": "bench", "Key": "clip"}, ExpiresIn=600)
            cmd = video.encode_ladder_command(Path("SOURCE"), info, rungs, tmp / "st", video.EncodeSettings())
            whitelist = SAFE_INPUT_OPTIONS["protocol_whitelist"]
            cmd = [url if c == "SOURCE" else c for c in cmd]
            cmd = ["http,tcp" if c == whitelist else c for c in cmd]
            subprocess.run(cmd, check=True, cwd=tmp / "st")

        (tmp / "dl").mkdir(exist_ok=True)
        (tmp / "st").mkdir(exist_ok=True)
        med = interleave(reps, download_then_encode=download_then_encode, stream=stream)
    finally:
        server.terminate()
        server.wait()
    results["streaming"] = {
        "seconds": seconds,
        "download_then_encode_s": med["download_then_encode"],
        "stream_s": med["stream"],
        "stream_over_download": med["stream"] / med["download_then_encode"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0, help="the ladder clip")
    parser.add_argument("--long-seconds", type=float, default=32.0, help="the chunked-encoding clip")
    parser.add_argument("--jobs", type=int, default=24, help="small jobs for the throughput run")
    parser.add_argument("--many-seconds", type=float, default=64.0, help="the many-core clip")
    parser.add_argument("--playable-seconds", type=float, default=60.0, help="time to first playable: the source")
    parser.add_argument(
        "--playable-long-seconds", type=float, default=600.0, help="the long source, cancelled once playable (0: none)"
    )
    parser.add_argument("--storage-seconds", type=float, default=60.0, help="storage: the pipeline's source")
    parser.add_argument("--before-tree", help="storage: a checkout of 188e298 (with .venv) to run as before, or auto")
    parser.add_argument("--storage-platform-seconds", type=float, default=60.0, help="storage: platform clip (0: none)")
    parser.add_argument("--short-seconds", type=float, default=10.0, help="storage: the short clip (0: none)")
    parser.add_argument("--storage-backend", choices=["s3", "fs"], default="s3", help="storage: platform runs")
    parser.add_argument("--quality-seconds", type=float, default=20.0, help="quality per bit: each clip")
    parser.add_argument(
        "--quality-cost-seconds", type=float, default=61.0, help="quality per bit: the analysis-cost clip (0: none)"
    )
    parser.add_argument("--quality-clips", nargs="*", help="quality per bit: only these clips (default: all six)")
    parser.add_argument("--loudness-seconds", type=float, default=60.0, help="loudness: the source")
    parser.add_argument(
        "--only",
        nargs="*",
        default=[
            "ladder",
            "playable",
            "storage",
            "quality",
            "loudness",
            "images",
            "chunks",
            "streaming",
            "throughput",
            "web",
            "gpu",
        ],
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        steps = {
            "ladder": lambda: bench_ladder(tmp, args.reps, args.seconds),
            "images": lambda: bench_images(tmp, args.reps),
            "chunks": lambda: bench_chunks(tmp, args.reps, args.long_seconds),
            "streaming": lambda: bench_streaming(tmp, args.reps, args.seconds),
            "throughput": lambda: bench_throughput(args.jobs),
            "web": lambda: bench_web_memory(tmp),
            "manycore": lambda: bench_manycore(tmp, args.reps, args.many_seconds),
            "gpu": lambda: bench_gpu(tmp, args.reps, args.seconds),
            "storage": lambda: bench_storage(
                tmp,
                args.reps,
                args.storage_seconds,
                args.before_tree,
                args.storage_platform_seconds,
                args.short_seconds,
                args.storage_backend,
            ),
            "quality": lambda: bench_quality(tmp, args.quality_seconds, args.quality_cost_seconds, args.quality_clips),
            "loudness": lambda: bench_loudness(tmp, args.reps, args.loudness_seconds),
            "playable": lambda: bench_playable(
                tmp, max(3, args.reps), args.playable_seconds, args.playable_long_seconds
            ),
        }
        for name in args.only:
            print(f"== {name}", flush=True)
            steps[name]()
            if name not in ("manycore", "gpu"):  # those carry their own date and note
                results[name].update(date=time.strftime("%Y-%m-%d"), machine=f"{cpu_model()}, {os.cpu_count()} cores")
                if name in REPEATED:
                    results[name]["reps"] = args.reps
            print(f"   {json.dumps(results.get(name))}", flush=True)
    # A partial run (--only) updates its sections and keeps the others' last figures.
    raw = ROOT / "docs" / "benchmarks.json"
    if raw.exists():
        results.update({k: v for k, v in json.loads(raw.read_text()).items() if k not in results})
    raw.write_text(json.dumps(results, indent=2) + "\n")
    text = report(results)
    (ROOT / "docs" / "benchmarks.md").write_text(text)
    plot(results, ROOT / "docs" / "benchmarks.png")
    print()
    print(text)


if __name__ == "__main__":
    main()
