"""The report of `make bench`: docs/benchmarks.md's table and the plot, from bench/run.py's figures."""

from __future__ import annotations

import os
import time
from pathlib import Path


def report(results: dict[str, dict]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"`make bench` on the development machine ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}.",
        "Contenders ran interleaved in one run on the same generated inputs (testsrc2 with noise",
        "and a sine tone; 12 MP JPEGs); ratios are the result, times are context (medians).",
        "",
        "| Comparison | Measured | Ratio | Target |",
        "|---|---|---|---|",
    ]
    if ld := results.get("ladder"):
        lines += [
            f"| (a) raw ffmpeg one-decode ladder, {ld['seconds']:g} s 1080p30, every rung as MP4 and HLS "
            f"| {ld['a_s']:.2f} s | | |",
            f"| (b) one ffmpeg per rung, each its MP4 and HLS | {ld['b_s']:.2f} s "
            f"| (b)/(c) **{ld['b_over_c']:.2f}** | ≥ 1.30 |",
            f"| (c) platform end to end: upload accepted (202) → job ready: renditions, HLS, poster, sprite "
            f"on S3 | {ld['c_s']:.2f} s | (c)/(a) **{ld['c_over_a']:.2f}** | ≤ 1.10 |",
            *(
                [
                    f"| … and SSIM of every rung stored (measured after the job is ready) | {ld['ssim_s']:.2f} s "
                    f"| (b)/(a) {ld['b_over_a']:.2f}: the most (b)/(c) can be here | |"
                ]
                if "ssim_s" in ld
                else []
            ),
            f"| fixed overhead on a 2 s clip: (c) {ld['short_c_s']:.2f} s − (a) {ld['short_a_s']:.2f} s "
            f"| {ld['fixed_overhead_s']:.2f} s | | < 1.5 s |",
        ]
    if pl := results.get("playable"):
        lines += _playable_rows(pl)
    if sto := results.get("storage"):
        lines += _storage_rows(sto)
    if qu := results.get("quality"):
        lines += _quality_rows(qu)
    if lo := results.get("loudness"):
        lines += _loudness_rows(lo)
    if im := results.get("images"):
        lines.append(
            f"| images, 3 × 12 MP JPEG → 4 widths × JPEG + WebP: naive Pillow {im['naive_s']:.2f} s, "
            f"project {im['project_s']:.2f} s | | naive/project **{im['naive_over_project']:.2f}** | ≥ 2 |"
        )
        if "pyvips_s" in im:
            lines.append(
                f"| images: project {im['project_s']:.2f} s, pyvips {im['pyvips_s']:.2f} s "
                f"| | project/pyvips **{im['project_over_pyvips']:.2f}** | keep pyvips only if it wins |"
            )
    if ch := results.get("chunks"):
        lines += [
            f"| chunked encoding, {ch['seconds']:g} s 1080p, x264 pinned to 1 thread per worker: 1 worker "
            f"whole-file {ch['pinned_whole_1_worker_s']:.2f} s, "
            f"2 workers chunked {ch['pinned_chunked_2_workers_s']:.2f} s "
            f"| | 2 workers / 1 **{ch['two_over_one_worker']:.2f}** | ≤ 0.55 |",
            f"| chunked vs whole-file on this {ch['cores']}-core box: whole-file with x264's own threads, chunked "
            f"one thread per chunk, {ch['cores']} at a time | whole {ch['whole_s']:.2f} s "
            f"({ch['whole_busy']:.0%} busy), chunked {ch['chunked_s']:.2f} s ({ch['chunked_busy']:.0%} busy) "
            f"| chunked/whole **{ch['chunked_over_whole']:.2f}** | ≤ 1.05 on 2 cores |",
        ]
    if mc := results.get("manycore"):
        lines += _manycore_rows(mc)
    if gpu := results.get("gpu"):
        lines += _gpu_rows(gpu)
    if tp := results.get("throughput"):
        lines += [
            f"| throughput, {tp['jobs']} small image jobs: 1 worker {tp['one_worker_s']:.2f} s, "
            f"2 workers {tp['two_workers_s']:.2f} s | | speed-up **{tp['speedup']:.2f}** | |",
            f"| broker overhead per task (job wall time − task run times, per task) "
            f"| {tp['task_overhead_ms']:.1f} ms | | < 20 ms |",
            f"| peak memory of a worker process (VmHWM) | {tp['worker_peak_mib']:.0f} MiB | | |",
        ]
    if st := results.get("streaming"):
        lines.append(
            f"| source from S3, {st['seconds']:g} s 1080p: download then encode {st['download_then_encode_s']:.2f} s, "
            f"ffmpeg streaming a presigned URL {st['stream_s']:.2f} s | | stream/download "
            f"**{st['stream_over_download']:.2f}** | keep the faster |"
        )
    if web := results.get("web"):
        lines.append(
            f"| peak memory of a gunicorn web worker taking a {web['upload_mib']:.0f} MB form upload "
            f"| {web['before_mib']:.0f} → {web['peak_mib']:.0f} MiB | | the file never in memory |"
        )
    for name in ("manycore", "gpu"):  # measured elsewhere (a lent GPU box), on their own date
        if (section := results.get(name)) and section.get("date"):
            lines += ["", f"The {name} rows: {section['date']}, {section.get('note', 'on a lent GPU box')}."]
    # `--only` keeps the other sections' last figures: say where and when each was measured.
    machines: dict[str, list[str]] = {}
    for name, section in results.items():
        if name not in ("manycore", "gpu"):
            where = f"{section['date']} on {section['machine']}" if "machine" in section else "an earlier run"
            machines.setdefault(where, []).append(f"{name} ({section['reps']} reps)" if "reps" in section else name)
    if machines:
        measured = "; ".join(f"{', '.join(names)}: {where}" for where, names in machines.items())
        lines += ["", f"Sections measured: {measured}."]
    if qu := results.get("quality"):
        lines += _quality_table(qu)
    lines += ["", "![benchmarks](benchmarks.png)", "", "Raw figures: [benchmarks.json](benchmarks.json).", ""]
    return "\n".join(lines)


def _playable_rows(pl: dict) -> list[str]:
    """Time to first playable (issue 21), per storage backend, next to time to ready, and the cost."""
    rows = []
    for key, label in (("fs", "filesystem (embedded default)"), ("s3", "S3 (moto_server)")):
        if f"{key}_playable_s" in pl:
            marked = f" (the API said playable at {pl[f'{key}_marked_s']:.2f} s)" if f"{key}_marked_s" in pl else ""
            rows.append(
                f"| time to first playable, {pl['seconds']:g} s 1080p30, {label}: upload completed → the API's "
                f"link plays its first segment{marked}; ready (whole ladder, thumbnails) {pl[f'{key}_ready_s']:.2f} s, "
                f"ladder done {pl[f'{key}_ladder_s']:.2f} s, worker {pl[f'{key}_worker_cpu_s']:.1f} CPU-s "
                f"| **{pl[f'{key}_playable_s']:.2f} s** | | ≤ 3 s |"
            )
        if f"{key}_long_playable_s" in pl:
            rows.append(
                f"| time to first playable, {pl['long_seconds']:g} s 1080p30 (the clean pattern), {label}, chunked "
                f"(cancelled once playable) "
                f"| **{pl[f'{key}_long_playable_s']:.2f} s** | | ≤ 5 s |"
            )
    if "encode_wall_ratio" in pl:
        rows.append(
            f"| cost of playing early, the ladder's ffmpeg alone: {pl['encode_playable_s']:.2f} s, "
            f"{pl['encode_playable_cpu_s']:.1f} CPU-s against today's {pl['encode_today_s']:.2f} s, "
            f"{pl['encode_today_cpu_s']:.1f} CPU-s | | wall **{pl['encode_wall_ratio']:.2f}**, "
            f"CPU **{pl['encode_cpu_ratio']:.2f}** | ≤ 1.10, ≤ 1.15 |"
        )
    return rows


def _storage_rows(st: dict) -> list[str]:
    """Issue 29: what the ladder stores before (today's layout) and after, and what it costs."""
    mb = 1e6
    rows = [
        f"| stored for playback and downloads, {st['seconds']:g} s 1080p30 with sound: before "
        f"({st['baseline']}) {st['before_stored_bytes'] / mb:.1f} MB, {st['before_stored_gb_per_hour']:.2f} GB "
        f"per source-hour; after ({st['after_layout']} layout, code at {st.get('after_code', 'this checkout')}) "
        f"{st['after_stored_bytes'] / mb:.1f} MB, {st['after_stored_gb_per_hour']:.2f} GB per source-hour "
        f"| one copy of the media (every stream's packets once): before {st['before_one_copy_bytes'] / mb:.1f} MB, "
        f"after {st['after_one_copy_bytes'] / mb:.1f} MB | stored / one copy: before {st['before_ratio']:.2f}, "
        f"after **{st['after_ratio']:.2f}** | ≤ 1.15 |",
        f"| objects stored for a 10-minute source (segments scaled to its length) | before "
        f"{st['before_objects_10min']:.0f}, after **{st['after_objects_10min']:.0f}** | | |",
        f"| the ladder's encode alone (ffmpeg, user + system CPU of the children): before "
        f"{st['before_wall_s']:.2f} s, {st['before_cpu_s']:.1f} CPU-s; after {st['after_wall_s']:.2f} s, "
        f"{st['after_cpu_s']:.1f} CPU-s | | after/before: wall **{st['wall_after_over_before']:.2f}**, "
        f"CPU **{st['cpu_after_over_before']:.2f}** | ≤ 1 |",
    ]
    if "short_after_over_one_decode" in st:
        before = f"{st['short_before_over_one_decode']:.2f}" if "short_before_over_one_decode" in st else "failed"
        rows.append(
            f"| ready on a short source, {st['short_seconds']:g} s 1080p30, platform end to end ({st['backend']}) "
            f"against today's plain one-decode ffmpeg ladder ({st['short_one_decode_s']:.2f} s): before "
            f"{st.get('short_before_ready_s', float('nan')):.2f} s, after {st['short_after_ready_s']:.2f} s "
            f"| | ready / one-decode: before {before}, after **{st['short_after_over_one_decode']:.2f}** | ≤ 0.85 |"
        )
    for key in ("before", "after"):
        if f"short_{key}_ready_s" in st:
            rows.append(
                f"| platform {key}, {st['short_seconds']:g} s 1080p30 ({st['backend']}), upload accepted → first "
                f"playable, ready; the worker's CPU-seconds | playable {st[f'short_{key}_playable_s']:.2f} s, "
                f"ready {st[f'short_{key}_ready_s']:.2f} s, {st[f'short_{key}_worker_cpu_s']:.1f} CPU-s | | |"
            )
    for key in ("before", "after"):
        if f"platform_{key}_ready_s" in st:
            fig = {name: st[f"platform_{key}_{name}"] for name in ("playable_s", "ready_s", "worker_cpu_s")}
            rows.append(
                f"| platform {key}, {st['platform_seconds']:g} s 1080p30 ({st['backend']}), upload accepted → "
                f"first playable, ready; the worker's CPU-seconds | playable {fig['playable_s']:.2f} s, "
                f"ready **{fig['ready_s']:.2f} s**, {fig['worker_cpu_s']:.1f} CPU-s | | |"
            )
    for prefix, length in (("short", "short_seconds"), ("platform", "platform_seconds")):
        figures = ("playable_s", "ready_s", "worker_cpu_s")
        fig = {f"{w}_{f}": st.get(f"{prefix}_{w}_{f}") for w in ("before", "after") for f in figures}
        if all(fig.values()):
            rows.append(
                f"| platform after/before on the {st[length]:g} s clip: first playable "
                f"{fig['after_playable_s'] / fig['before_playable_s']:.2f}, worker CPU "
                f"{fig['after_worker_cpu_s'] / fig['before_worker_cpu_s']:.2f} | | ready "
                f"**{fig['after_ready_s'] / fig['before_ready_s']:.2f}** | ≤ 1 within noise |"
            )
    if st.get("missing"):
        rows.append(f"| storage section: not measured in this run: {'; '.join(st['missing'])} | | | |")
    return rows


def _loudness_rows(lo: dict) -> list[str]:
    """Issue 31: the loudness measurement and the levelled sound, per source minute and per job."""
    return [
        f"| loudness, {lo['seconds']:g} s 1080p30 with a quiet voice (-42 LUFS): the source measured (ebur128, true "
        f"peak) {lo['measure_cpu_s_per_min']:.2f} CPU-s/min; its sound encoded again at the target and checked "
        f"{lo['level_cpu_s_per_min']:.2f} CPU-s/min; the ladder's encode {lo['ladder_cpu_s']:.1f} CPU-s, the job "
        f"with loudness off {lo['off_worker_cpu_s']:.1f} CPU-s "
        f"| **{lo['total_cpu_s_per_min']:.2f} CPU-s per source minute** "
        f"| of the ladder's encode {lo['share_of_ladder']:.1%}; of the job **{lo['share_of_job']:.1%}** "
        f"| ≤ {lo['target_share']:.0%} more per job |",
        f"| time to first playable, the same source, loudness off → on (-16 LUFS): {lo['off_playable_s']:.2f} s "
        f"→ {lo['on_playable_s']:.2f} s; ready {lo['off_ready_s']:.2f} s → {lo['on_ready_s']:.2f} s; the worker's "
        f"CPU to ready {lo['off_worker_cpu_s']:.1f} → {lo['on_worker_cpu_s']:.1f} CPU-s (whole jobs: noisier than "
        f"the row above) "
        f"| | on/off **{lo['playable_ratio']:.2f}** | unchanged (measured beside the lead) |",
        *_audio_rows(lo),
    ]


def _audio_rows(lo: dict) -> list[str]:
    """Audio-only uploads (issue 31): a sound alone of the same length, loudness off and on."""
    if "audio_on_playable_s" not in lo:
        return []
    return [
        f"| time to first playable, a {lo['seconds']:g} s WAV alone (the same voice), loudness off → on: "
        f"{lo['audio_off_playable_s']:.2f} s → {lo['audio_on_playable_s']:.2f} s; ready "
        f"{lo['audio_off_ready_s']:.2f} s → {lo['audio_on_ready_s']:.2f} s; the worker's CPU to ready "
        f"{lo['audio_off_worker_cpu_s']:.1f} → {lo['audio_on_worker_cpu_s']:.1f} CPU-s "
        f"| the video's, loudness on: {lo['on_playable_s']:.2f} s "
        f"| **{lo['audio_on_playable_s']:.2f} s** | playable seconds after upload, as a video is |",
    ]


def _quality_rows(qu: dict) -> list[str]:
    """Issue 30, summed up: bytes over the clip set, each clip's top rung against its target, the cost."""
    n, mb = len(qu["clips"]), 1e6
    rows = [
        f"| quality per bit: {n} generated clips × {qu['seconds']:g} s 1080p30 (table below), every stream's "
        f"media once: fixed ladder {qu['total_before_bytes'] / mb:.1f} MB, "
        f"per-title {qu['total_after_bytes'] / mb:.1f} MB "
        f"| mean of per-clip savings {qu['mean_saving']:.1%} | saved **{qu['saving']:.1%}** "
        f"| ≥ {qu['saving_target']:.0%} fewer bytes |",
        f"| top rung's VMAF ≥ its target − {qu['top_slack']:g}: per-title **{qu['top_met']} of {n}** clips, "
        f"fixed ladder {qu['top_met_before']} of {n} | | | every clip |",
    ]
    if "total_fixed_cpu_s" in qu:
        rows.append(
            f"| CPU over the clip set (ffmpeg, user + system): fixed ladder {qu['total_fixed_cpu_s']:.0f} CPU-s; "
            f"per-title analysis {qu['total_analysis_cpu_s']:.0f} + its ladder {qu['total_encode_cpu_s']:.0f} CPU-s "
            f"| | | |"
        )
    if cost := qu.get("cost"):
        rows.append(
            f"| the per-title analysis on a {cost['seconds']:g} s clip ({cost['clip']}, {cost['sample_s']:g} s "
            f"sampled): {cost['analysis_cpu_s']:.1f} CPU-s ({cost['analysis_wall_s']:.1f} s) beside the ladder's "
            f"encode {cost['encode_cpu_s']:.1f} CPU-s ({cost['encode_wall_s']:.1f} s)"
            + (
                f" and the after-ready SSIM {cost['ssim_cpu_s']:.1f} + VMAF {cost['vmaf_cpu_s']:.1f} CPU-s "
                if "vmaf_cpu_s" in cost
                else " "
            )
            + f"| +{cost['over_encode']:.1%} over the encode | share of the job's CPU **{cost['share']:.1%}** "
            f"| ≤ {cost['target_share']:.0%} from 1 minute up |"
        )
    return rows


def _quality_table(qu: dict) -> list[str]:
    """Issue 30, per clip and rung: the fixed ladder's bytes and VMAF against the per-title one's."""
    targets = " / ".join(f"{t:g}" for t in qu["policy"]["targets"])
    lines = [
        "",
        "## Quality per bit (issue 30)",
        "",
        f"Each clip {qu['seconds']:g} s 1080p30, generated by ffmpeg's lavfi sources and stored losslessly, is "
        "encoded by the platform's transcode_ladder twice: the fixed ladder (CRF 23 under fixed caps) and the "
        "per-title one (pertitle.decide, then its choices). Bytes: the rung's stream, every media file once. "
        f"VMAF (v0.6.1, at 1080p) against the clip, every third frame. Targets: {targets} from the "
        "top rung down. Time to first playable is unaffected by design: the analysis runs beside the lead rung, "
        "niced, and is not measured here.",
        "",
        "| Clip | Rung | Fixed: MB | Fixed: VMAF | Per-title: MB | Per-title: VMAF | CRF / cap kb/s "
        "| Target (predicted) | Dropped |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, clip in qu["clips"].items():
        for r in clip["rungs"]:
            after = (f"{r['after_bytes'] / 1e6:.2f}", f"{r['after_vmaf']:.2f}") if r["after_bytes"] else ("—", "—")
            target = f"{r['target_vmaf']:g} ({r['predicted_vmaf']:.1f})" if r["target_vmaf"] else "lead: fixed recipe"
            lines.append(
                f"| {name} | {r['rung']} | {r['before_bytes'] / 1e6:.2f} | {r['before_vmaf']:.2f} "
                f"| {after[0]} | {after[1]} "
                f"| {r['crf']:g} / {r['cap_kbps']} | {target} | {r['dropped'] or ''} |"
            )
        met = "meets it" if clip["top_met"] else "short of it"
        lines.append(
            f"| **{name}** | all | **{clip['before_bytes'] / 1e6:.2f}** | top {clip['top_vmaf_before']:.2f} "
            f"| **{clip['after_bytes'] / 1e6:.2f}** ({clip['saving']:.1%} saved) | top ({clip['top_rung']}) "
            f"**{clip['top_vmaf_after']:.2f}** | CPU-s: fixed {clip['fixed_cpu_s']:.0f}; per-title "
            f"{clip['analysis_cpu_s']:.0f} + {clip['encode_cpu_s']:.0f} | {clip['top_target_vmaf']:g}: {met} | |"
        )
    lines += ["", "Clips: " + "; ".join(f"{name}: {c['label']}" for name, c in qu["clips"].items()) + "."]
    return lines


def _manycore_rows(mc: dict) -> list[str]:
    """One row per chunked layout against the whole-file encode, measured on a many-core box."""
    whole = mc["layouts"]["whole"]
    rows = []
    for name, lay in mc["layouts"].items():
        if name == "whole":
            continue
        chunks, threads = name.split("x")
        each = "x264 choosing its threads" if threads == "auto" else f"{threads} x264 thread(s) each"
        layout = f"{chunks} chunks at once, {each}"
        rows.append(
            f"| many-core box ({mc['cores']} cores, {mc['cpu']}), {mc['seconds']:g} s 1080p: whole-file "
            f"{whole['seconds']:.2f} s ({whole['busy']:.0%} busy) vs chunked, {layout}: {lay['seconds']:.2f} s"
            f"{'' if lay['frames_match'] else ' (FRAME COUNTS DIFFER)'} | **{lay['busy']:.0%}** busy "
            f"| chunked/whole **{lay['seconds'] / whole['seconds']:.2f}** | ≥ 90% busy |"
        )
    return rows


def _gpu_rows(gpu: dict) -> list[str]:
    """The worker's own start-up check on a GPU box, and the full ladder decoded there on the GPU."""
    decode = gpu["decode"]
    timings = (
        f"3-rung check: NVDEC + scale_cuda {decode['hw_seconds']:.2f} s, CPU {decode['cpu_seconds']:.2f} s"
        if decode.get("hw_seconds") and decode.get("cpu_seconds")
        else decode["reason"]
    )
    checks = gpu["report"]["checks"]
    listed = ", ".join(c["name"] for c in checks if c["listed"] and c["name"] != "libx264") or "none"
    rows = [
        f"| GPU worker's start-up check on {gpu['device']}: hardware encoders listed: {listed}; "
        f"chosen: {gpu['gpu_encoder'] or 'none, CPU'} ({gpu['reason']}) | {timings} "
        f"| decode on the GPU: **{'yes' if gpu['hw_decode'] else 'no'}** "
        f"| only an encoder that passes a test encode; NVDEC only if ≥ 10% faster |"
    ]
    if (ladder := gpu.get("ladder")) and "error" in ladder:
        rows.append(f"| the platform's ladder decoded on the GPU | failed: {ladder['error']} | | |")
    elif ladder:
        rows.append(
            f"| the platform's ladder (libx264), {ladder['seconds']:g} s 1080p, decoded and scaled on the GPU "
            f"(MEDIA_HW_DECODE=force) {ladder['hw_s']:.2f} s vs on the CPU {ladder['cpu_s']:.2f} s"
            f"{'' if ladder['frames_match'] else ' (FRAME COUNTS DIFFER)'} "
            f"| | GPU/CPU **{ladder['hw_over_cpu']:.2f}** | |"
        )
    return rows


def plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = []
    if ld := results.get("ladder"):
        bars += [("(a) raw ladder", ld["a_s"]), ("(b) per rung", ld["b_s"]), ("(c) platform e2e", ld["c_s"])]
    if im := results.get("images"):
        bars += [("images naive", im["naive_s"]), ("images project", im["project_s"])]
        if "pyvips_s" in im:
            bars.append(("images pyvips", im["pyvips_s"]))
    if ch := results.get("chunks"):
        bars += [
            ("1 worker whole (1 thread)", ch["pinned_whole_1_worker_s"]),
            ("2 workers chunked (1 thread)", ch["pinned_chunked_2_workers_s"]),
        ]
    if not bars:
        return
    fig, ax = plt.subplots(figsize=(9, 4.5))
    labels, values = [b[0] for b in bars][::-1], [b[1] for b in bars][::-1]
    ax.barh(labels, values, color="#2563eb")
    ax.set_xlabel("seconds (median)")
    ax.set_title(f"make bench, {os.cpu_count()} cores")
    for i, value in enumerate(values):
        ax.text(value, i, f" {value:.2f}s", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
