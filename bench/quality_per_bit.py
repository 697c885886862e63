"""Issue 30's "quality per bit" section: today's fixed ladder against the per-title one, per clip.

Six 1080p30 sources of different difficulty are generated with ffmpeg's lavfi sources at bench time
(never fetched), each stored losslessly (x264 -qp 0) so that it is its own VMAF reference:
screen content, a talking head, animation, high motion, film grain and a dark scene. Each is
encoded twice with the platform's own transcode_ladder, each into its own directory:
  fixed:     plan_ladder's rungs, CRF 23 under the fixed caps (EncodeSettings());
  per-title: pertitle.decide on the clip, then its decision applied to the same rungs.
Per rung: the bytes of its stream's media files (one copy of every stream the master names) and
its VMAF against the clip (quality.measure_vmaf, both ladders in one run, one decode of the clip).
CPU-seconds are the children's user + system time around each step (ffmpeg is the child).

The analysis cost is measured once more on a longer clip (the animation one, 61 s by default: the
shortest source that decide samples in three windows and whose after-ready VMAF is windowed, so the
analysis's largest share): its CPU-seconds as a share of the job's (analysis, the per-title ladder's
encode, the after-ready SSIM and VMAF; thumbnails and storage left out, so the share is an upper
bound). Time to first playable is unaffected by design (the analysis runs beside the lead rung,
niced) and is not measured here.
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import LADDER, LIMITS, encode_cost, results
from media_tasks.pipeline import pertitle, quality, video
from media_tasks.pipeline.probe import MediaInfo, probe
from media_tasks.pipeline.streams import Ladder, transcode_ladder

FPS = 30
# The face of the talking head: an ellipse mask made once (geq is slow), looped, over skin colour.
_FACE = (
    "color=c=white:s=420x560:r=30:d=1,format=gray,"
    "geq=lum='if(lte(pow((X-210)/210\\,2)+pow((Y-280)/280\\,2)\\,1)\\,255\\,0)',"
    "trim=end_frame=1,loop=loop=-1:size=1,setpts=N/30/TB[mask];"
    "color=c=0xc89878:s=420x560:r=30[skin];[skin][mask]alphamerge[face];"
)
# name → (what it stands for, its lavfi graph).
# A slide: a title and six lines that change with the slide number, every 3 s.
_SLIDE_NO = "%{eif\\:floor(t/3)+1\\:d}"
_SLIDE = ",".join(
    [f"drawtext=text='Quarterly review, slide {_SLIDE_NO}':x=120:y=90:fontsize=72:fontcolor=0x203060"]
    + [
        f"drawtext=text='- Point {i} of slide {_SLIDE_NO}\\: figures for region {i} and the plan ahead':"
        f"x=160:y={260 + 110 * i}:fontsize=44:fontcolor=0x303030"
        for i in range(6)
    ]
    + ["drawbox=x='1500+40*mod(floor(t/3),4)':y=300:w=240:h=180:color=0x3070c0:t=fill"]
)
# name → (what it stands for, its lavfi graph).
CLIPS: dict[str, tuple[str, str]] = {
    "screen": ("screen content: slides of text that change every 3 s", "color=c=0xf4f4f0:s=1920x1080:r=30," + _SLIDE),
    "talking-head": (
        "talking head: a slow gradient behind a face that sways",
        "gradients=s=1920x1080:r=30:speed=0.002:c0=0x303848:c1=0x707888:n=2[bg];"
        + _FACE
        + "[bg][face]overlay=x='750+20*sin(t*1.3)':y='260+8*sin(t*0.9)'",
    ),
    "animation": ("animation: testsrc2, flat colours and moving shapes", "testsrc2=s=1920x1080:r=30"),
    "high-motion": (
        "high motion: a fast pan (about 700 px/s) over a detailed still, a Mandelbrot set at 4K",
        "mandelbrot=s=3840x2160:r=30:start_scale=1.5:end_scale=1.5,trim=end_frame=1,loop=loop=-1:size=1,"
        "setpts=N/30/TB,crop=1920:1080:x='960+900*sin(t*0.8)':y='540+500*cos(t*0.6)'",
    ),
    "film-grain": (
        "film grain: testsrc2 under strong temporal noise",
        "testsrc2=s=1920x1080:r=30,noise=alls=14:allf=t+u",
    ),
    "dark": (
        "dark scene: the talking head at night, dim and low in contrast, with light grain",
        "gradients=s=1920x1080:r=30:speed=0.002:c0=0x303848:c1=0x707888:n=2[bg];"
        + _FACE
        + "[bg][face]overlay=x='750+20*sin(t*1.3)':y='260+8*sin(t*0.9)',"
        "eq=brightness=-0.25:contrast=0.5,noise=alls=3:allf=t",
    ),
}
COST_CLIP = "animation"
VMAF_WINDOWS = 3
# The targets: the top rung within this of its VMAF target; bytes; the analysis's share.
TOP_RUNG_SLACK = 1.0
SAVING_TARGET = 0.20
COST_SHARE_TARGET = 0.15


def make_clip(name: str, seconds: float, out: Path) -> Path:
    """The clip `name`, `seconds` long, 1080p30 yuv420p, stored losslessly (its own reference)."""
    graph = CLIPS[name][1]
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i", graph]
    cmd += ["-t", f"{seconds:g}", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p"]
    subprocess.run([*cmd, str(out)], check=True)
    return out


def stream_bytes(ladder: Ladder) -> dict[str, int]:
    """Rung name (and "audio") → the bytes of that stream's media files."""
    sizes = {v.stream.rung: sum(p.stat().st_size for p in v.media_files()) for v in ladder.videos}
    if ladder.audio is not None:
        sizes["audio"] = sum(p.stat().st_size for p in ladder.audio.media_files())
    return sizes


def measure_both(clip: Path, info: MediaInfo, ladders: dict[str, Ladder], workdir: Path) -> dict[str, dict[str, float]]:
    """VMAF of every rung of every ladder (side → rung → VMAF), in one run: one decode of the clip."""
    videos = [dataclasses.replace(v, name=f"{side}-{v.name}") for side, ld in ladders.items() for v in ld.describe()]
    scores = quality.measure_vmaf(clip, info, videos, workdir, window_count=VMAF_WINDOWS)
    return {side: {v.name: scores[f"{side}-{v.name}"] for v in ld.describe()} for side, ld in ladders.items()}


def per_title(clip: Path, info: MediaInfo, rungs: list[video.Rung], work: Path) -> dict[str, Any]:
    """decide, then the decided ladder's encode, each with its wall and CPU-seconds."""
    found: dict[str, Any] = {}

    def analyse() -> None:
        found["decision"] = pertitle.decide(clip, info, rungs, work / "analysis", policy=pertitle.Policy())

    def encode() -> None:
        found["ladder"] = transcode_ladder(clip, info, found["decision"].apply(rungs), work / "per-title")

    found["analysis_wall_s"], found["analysis_cpu_s"] = encode_cost(analyse)
    found["encode_wall_s"], found["encode_cpu_s"] = encode_cost(encode)
    return found


def rung_rows(
    rungs: list[video.Rung],
    decision: pertitle.LadderDecision,
    before: dict[str, int],
    after: dict[str, int],
    vmaf: dict[str, dict[str, float]],
) -> list[dict[str, Any]]:
    """One row per planned rung: the fixed ladder's figures, the per-title one's, and the choice."""
    chosen = {c.name: c for c in decision.rungs}
    rows = []
    for rung in rungs:
        choice = chosen[rung.name]
        kept = not choice.dropped
        rows.append(
            {
                "rung": rung.name,
                "before_bytes": before[rung.name],
                "before_vmaf": vmaf["fixed"][rung.name],
                "before_crf": float(video.CRF),
                "before_cap_kbps": rung.maxrate_kbps,
                "after_bytes": after[rung.name] if kept else None,
                "after_vmaf": vmaf["per-title"][rung.name] if kept else None,
                "crf": choice.crf,
                "cap_kbps": choice.maxrate_kbps,
                "target_vmaf": choice.target_vmaf,
                "predicted_vmaf": choice.predicted_vmaf,
                "dropped": choice.dropped,
                "note": choice.note,
            }
        )
    return rows


def bench_clip(tmp: Path, name: str, seconds: float) -> dict[str, Any]:
    """Both ladders of one clip, their bytes and VMAF per rung, and what each cost."""
    work = tmp / f"quality-{name}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        clip = make_clip(name, seconds, work / "clip.mp4")
        info = probe(clip, LIMITS)
        rungs = video.plan_ladder(info, LADDER)
        fixed: dict[str, Ladder] = {}
        fixed_wall, fixed_cpu = encode_cost(
            lambda: fixed.update(ladder=transcode_ladder(clip, info, rungs, work / "fixed"))
        )
        pt = per_title(clip, info, rungs, work)
        vmaf = measure_both(clip, info, {"fixed": fixed["ladder"], "per-title": pt["ladder"]}, work / "vmaf")
        before, after = stream_bytes(fixed["ladder"]), stream_bytes(pt["ladder"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    decision: pertitle.LadderDecision = pt["decision"]
    rows = rung_rows(rungs, decision, before, after, vmaf)
    top = next(r for r in rows if r["after_bytes"] is not None)
    # The lead has no target of its own (it keeps the fixed recipe): its position's, if it is the top.
    target = top["target_vmaf"] or pertitle.Policy().target(rows.index(top))
    target_before = rows[0]["target_vmaf"] or pertitle.Policy().target(0)
    section = {
        "label": CLIPS[name][0],
        "seconds": seconds,
        "policy": decision.policy,
        "reason": decision.reason,
        "sample_s": decision.sample_s,
        "rungs": rows,
        "before_bytes": sum(before.values()),
        "after_bytes": sum(after.values()),
        "top_rung": top["rung"],
        "top_target_vmaf": target,
        "top_vmaf_before": rows[0]["before_vmaf"],
        "top_vmaf_after": top["after_vmaf"],
        "top_met": top["after_vmaf"] >= target - TOP_RUNG_SLACK,
        "top_target_vmaf_before": target_before,
        "top_met_before": rows[0]["before_vmaf"] >= target_before - TOP_RUNG_SLACK,
        "fixed_wall_s": fixed_wall,
        "fixed_cpu_s": fixed_cpu,
        **{k: pt[k] for k in ("analysis_wall_s", "analysis_cpu_s", "encode_wall_s", "encode_cpu_s")},
    }
    section["saving"] = 1 - section["after_bytes"] / section["before_bytes"]
    return section


def cost_part(tmp: Path, seconds: float) -> dict[str, Any]:
    """The analysis's CPU-seconds against the per-title job's: the analysis, the ladder's encode and
    the after-ready SSIM and VMAF (processing/quality.py's defaults), on a longer clip."""
    work = tmp / "quality-cost"
    work.mkdir(parents=True, exist_ok=True)
    try:
        clip = make_clip(COST_CLIP, seconds, work / "clip.mp4")
        info = probe(clip, LIMITS)
        pt = per_title(clip, info, video.plan_ladder(info, LADDER), work)
        videos = pt["ladder"].describe()
        _, ssim_cpu = encode_cost(lambda: quality.measure_ssim(clip, info, videos, work / "ssim"))
        _, vmaf_cpu = encode_cost(lambda: quality.measure_vmaf(clip, info, videos, work / "vmaf"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    job = pt["analysis_cpu_s"] + pt["encode_cpu_s"] + ssim_cpu + vmaf_cpu
    return {
        "clip": COST_CLIP,
        "seconds": seconds,
        "sample_s": pt["decision"].sample_s,
        **{k: pt[k] for k in ("analysis_wall_s", "analysis_cpu_s", "encode_wall_s", "encode_cpu_s")},
        "ssim_cpu_s": ssim_cpu,
        "vmaf_cpu_s": vmaf_cpu,
        "share": pt["analysis_cpu_s"] / job,
        "over_encode": pt["analysis_cpu_s"] / pt["encode_cpu_s"],
        "target_share": COST_SHARE_TARGET,
    }


def bench_quality(tmp: Path, seconds: float, cost_seconds: float, names: list[str] | None = None) -> None:
    """Every clip in CLIPS (or `names`), then the cost clip (none with `cost_seconds` 0)."""
    clips = {}
    for name in names or list(CLIPS):
        started = time.perf_counter()
        clips[name] = bench_clip(tmp, name, seconds)
        c = clips[name]
        print(
            f"  {name}: {c['before_bytes'] / 1e6:.2f} → {c['after_bytes'] / 1e6:.2f} MB ({c['saving']:.1%} saved), "
            f"top VMAF {c['top_vmaf_before']:.2f} → {c['top_vmaf_after']:.2f} (target {c['top_target_vmaf']:g}), "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    before = sum(c["before_bytes"] for c in clips.values())
    after = sum(c["after_bytes"] for c in clips.values())
    section: dict[str, Any] = {
        "seconds": seconds,
        "vmaf_windows": VMAF_WINDOWS,
        "policy": dataclasses.asdict(pertitle.Policy()),
        "clips": clips,
        "total_before_bytes": before,
        "total_after_bytes": after,
        "saving": 1 - after / before,
        "mean_saving": statistics.mean(c["saving"] for c in clips.values()),
        "saving_target": SAVING_TARGET,
        "top_slack": TOP_RUNG_SLACK,
        "top_met": sum(c["top_met"] for c in clips.values()),
        "top_met_before": sum(c["top_met_before"] for c in clips.values()),
        **{f"total_{k}": sum(c[k] for c in clips.values()) for k in ("fixed_cpu_s", "analysis_cpu_s", "encode_cpu_s")},
    }
    if cost_seconds:
        section["cost"] = cost_part(tmp, cost_seconds)
    results["quality"] = section
