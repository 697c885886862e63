"""`make bench`: the platform measured against raw ffmpeg and naive code, side by side in one run.

Every comparison runs its contenders interleaved (A, B, A, B, ...) on the same
generated inputs, so machine noise hits both alike; the ratios are the result,
absolute times are context. Writes docs/benchmarks.md and docs/benchmarks.png.

    .venv/bin/python bench/run.py [--reps 2] [--only ladder images chunks throughput web]
"""

from __future__ import annotations

import argparse
import concurrent.futures
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

from bench.report import plot, report  # noqa: E402
from media_tasks.pipeline import chunks, images, video  # noqa: E402
from media_tasks.pipeline.probe import ProbeLimits, probe  # noqa: E402
from tests.media import make_video  # noqa: E402

LADDER = [1080, 720, 480, 360]
WIDTHS = [320, 640, 1280, 2048]
LIMITS = ProbeLimits(max_duration_s=86400, max_pixels=10**9)
results: dict[str, dict] = {}


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class CpuMeter:
    """Share of all cores busy while a block runs (from /proc/stat)."""

    def __enter__(self):
        self.start = self._read()
        return self

    def __exit__(self, *exc):
        end = self._read()
        busy, total = end[0] - self.start[0], end[1] - self.start[1]
        self.busy = busy / total if total else 0.0

    @staticmethod
    def _read() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)


def interleave(reps: int, **contenders) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(reps):
        for name, fn in contenders.items():
            times[name].append(timed(fn))
    return {name: statistics.median(values) for name, values in times.items()}


# --- (a) (b) (c): the ladder --------------------------------------------------------


def one_decode(clip: Path, out: Path, threads: int = 0) -> None:
    info = probe(clip, LIMITS)
    out.mkdir(parents=True, exist_ok=True)
    rungs = video.plan_ladder(info, LADDER)
    cmd = video.encode_ladder_command(clip.absolute(), info, rungs, out, video.EncodeSettings(threads=threads))
    subprocess.run(cmd, check=True, cwd=out)  # names in the command are relative to the output directory


def per_rung(clip: Path, out: Path) -> None:
    info = probe(clip, LIMITS)
    out.mkdir(parents=True, exist_ok=True)
    for rung in video.plan_ladder(info, LADDER):  # the naive way: one ffmpeg (one decode) per rung
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
    clip = make_video(tmp / "clip.mp4", width=1920, height=1080, duration=seconds, noise=True)
    raw: dict[str, list[float]] = {"a": [], "b": [], "c": [], "ssim": []}
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


# --- Chunked encoding -----------------------------------------------------------------


def chunked(clip: Path, out: Path, workers: int, threads: int, chunk_seconds: float) -> None:
    """The chunk stage as the workers run it: each chunk's whole ladder from one decode and the
    sound once, `workers` at a time, then the join by stream copy."""
    info = probe(clip, LIMITS)
    rungs = video.plan_ladder(info, LADDER)
    spans = chunks.plan_chunks(clip, info.duration, chunk_seconds)
    settings = video.EncodeSettings(threads=threads)

    def encode(i: int) -> list[video.VideoFile]:
        return video.transcode_ladder(clip, info, rungs, out / f"c{i}", settings=settings, span=spans[i])

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:  # each thread drives one ffmpeg process
        sound = pool.submit(chunks.encode_audio, clip, info, 128, out / "a.m4a")  # a chord member too
        pieces = list(pool.map(encode, range(len(spans))))
        audio = sound.result()
    with concurrent.futures.ThreadPoolExecutor(len(rungs)) as pool:  # the joins side by side, as the worker runs them
        joins = [
            pool.submit(chunks.join, [p[r].path for p in pieces], audio, out / f"{rung.name}.mp4")
            for r, rung in enumerate(rungs)
        ]
    for done in joins:
        done.result()


def bench_chunks(tmp: Path, reps: int, seconds: float) -> None:
    clip = make_video(tmp / "long.mp4", width=1920, height=1080, duration=seconds, noise=True, tone=300)
    cores = os.cpu_count() or 1
    pinned = interleave(
        reps,
        whole_1_worker=lambda: one_decode(clip, tmp / "w1", threads=1),
        chunked_2_workers=lambda: chunked(clip, tmp / "c2", workers=2, threads=1, chunk_seconds=seconds / 4),
    )
    contenders = {
        "whole": lambda: one_decode(clip, tmp / "w"),
        "chunked": lambda: chunked(clip, tmp / "c", workers=cores, threads=1, chunk_seconds=seconds / 4),
    }
    runs: dict[str, list[float]] = {name: [] for name in contenders}
    busy: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(reps):  # interleaved, like `interleave`, with the share of the cores busy
        for name, fn in contenders.items():
            with CpuMeter() as meter:
                runs[name].append(timed(fn))
            busy[name].append(meter.busy)
    mine = {name: (statistics.median(runs[name]), statistics.median(busy[name])) for name in contenders}
    results["chunks"] = {
        "seconds": seconds,
        "cores": cores,
        "pinned_whole_1_worker_s": pinned["whole_1_worker"],
        "pinned_chunked_2_workers_s": pinned["chunked_2_workers"],
        "two_over_one_worker": pinned["chunked_2_workers"] / pinned["whole_1_worker"],
        "whole_s": mine["whole"][0],
        "whole_busy": mine["whole"][1],
        "chunked_s": mine["chunked"][0],
        "chunked_busy": mine["chunked"][1],
        "chunked_over_whole": mine["chunked"][0] / mine["whole"][0],
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
    parser.add_argument("--only", nargs="*", default=["ladder", "images", "chunks", "streaming", "throughput", "web"])
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
        }
        for name in args.only:
            print(f"== {name}", flush=True)
            steps[name]()
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
