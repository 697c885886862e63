"""A per-title ladder: each rung's CRF and rate cap chosen for this source, to reach a VMAF target.

The method is ab-av1's crf-search (https://github.com/alexheretic/ab-av1) cut to two rounds: a
few seconds sampled from the source are encoded at every rung at one CRF, scored with VMAF
(quality.py), encoded again at a CRF on the side of the target, scored, and the CRF that meets the
target is read off the line through the two. Each round is one decode of the sample for all rungs
and one VMAF run for all of them, so the cost does not grow with the source's length.

- The top rung aims at its target with a CRF anywhere in the range, and its cap may rise up to
  `ceiling` times the fixed ladder's, so that hard content reaches its target.
- The lower rungs are for viewers short of bandwidth: they aim at their targets from the cheap side
  only, never given more than the fixed recipe (its CRF and its cap).
- A rung that scores within `drop_margin` of the kept rung below it, at more bits, is dropped.
- The lead rung (lead.py) is encoded before this is known, with the fixed recipe: it is scored
  with the others, so that the rung above it can be compared with it, and is never dropped.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import ffmpeg

from . import quality
from .encoders import CPU_ENCODER, EncoderProfile
from .probe import SAFE_INPUT_OPTIONS, MediaInfo
from .renditions import describe_video
from .runner import QUIET_ARGS, ProgressCallback, run_ffmpeg
from .video import CRF, MAX_FPS, EncodeSettings, Rung, keyframe_interval

PER_TITLE = "per-title"
FIXED = "fixed"
# Sources this long or longer are sampled in SAMPLE_WINDOWS windows of SAMPLE_WINDOW_S at ¼, ½
# and ¾ of them: one window from the middle of a 12 s pan predicted VMAF 94 where the whole clip
# scored 98.7. A shorter one (the cheaper analysis) is sampled in one window from its middle, a
# fifth of its length, at least MIN_SAMPLE_S.
SAMPLE_WINDOWS = 3
SAMPLE_WINDOW_S = 1.0
FULL_SAMPLE_MIN_S = 10.0
MIN_SAMPLE_S = 1.0
# The three windows are scored on every PROBE_NTH frame (libvmaf's n_subsample), a short source's
# single window on every third: VMAF is most of the analysis's cost.
PROBE_NTH = 6
# The second round's CRF, this far from the first on the side of the target: near enough that the
# line between them holds, far enough that the VMAF difference is above the noise.
CRF_STEP = 4.0


@dataclass(frozen=True)
class Policy:
    """What a per-title ladder aims at (settings.MEDIA_VMAF_TARGETS and neighbours)."""

    targets: tuple[float, ...] = (93.0, 85.0, 75.0)  # from the top rung down; the last one repeats
    crf_range: tuple[float, float] = (18.0, 34.0)
    ceiling: float = 2.0  # the top rung's cap may rise to this × the fixed ladder's
    drop_margin: float = 1.0
    # The top rung aims this far above its target: the sample is seconds of the source, and the
    # whole of a talking head measured 1.5 below what its sample predicted.
    top_margin: float = 1.0

    def target(self, position: int) -> float:
        return self.targets[min(position, len(self.targets) - 1)]


@dataclass(frozen=True)
class RungChoice:
    name: str
    crf: float
    maxrate_kbps: int
    target_vmaf: float | None  # None: the lead, encoded with the fixed recipe
    predicted_vmaf: float | None
    predicted_kbps: int | None
    dropped: str = ""  # why the rung was left out; empty when it is kept
    note: str = ""


@dataclass(frozen=True)
class LadderDecision:
    policy: str
    reason: str
    rungs: tuple[RungChoice, ...]  # largest first, dropped ones included
    sample_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LadderDecision:
        rungs = tuple(RungChoice(**row) for row in data["rungs"])
        return cls(policy=data["policy"], reason=data["reason"], rungs=rungs, sample_s=data.get("sample_s", 0.0))

    def apply(self, rungs: Sequence[Rung]) -> list[Rung]:
        """`rungs` as decided: the dropped ones left out, the others with their CRF and cap."""
        chosen = {c.name: c for c in self.rungs}
        return [
            replace(rung, crf=chosen[rung.name].crf, maxrate_kbps=chosen[rung.name].maxrate_kbps)
            if rung.name in chosen
            else rung
            for rung in rungs
            if not (rung.name in chosen and chosen[rung.name].dropped)
        ]


def fixed_ladder(rungs: Sequence[Rung], reason: str, crf: float = CRF) -> LadderDecision:
    """The fixed recipe for every rung, said as a decision."""
    choices = tuple(RungChoice(r.name, crf, r.maxrate_kbps, None, None, None, note="the fixed recipe") for r in rungs)
    return LadderDecision(FIXED, reason, choices)


def sample_spans(duration: float | None) -> list[tuple[float, float]]:
    """(start, length) of the stretches of the source the analysis encodes."""
    length = duration or 0.0
    if length >= FULL_SAMPLE_MIN_S:
        return [
            (length * (i + 1) / (SAMPLE_WINDOWS + 1) - SAMPLE_WINDOW_S / 2, SAMPLE_WINDOW_S)
            for i in range(SAMPLE_WINDOWS)
        ]
    window = min(length, max(MIN_SAMPLE_S, length / 5))
    return [(max(0.0, (length - window) / 2), window)]


@dataclass(frozen=True)
class Probe:
    rung: str
    crf: float
    vmaf: float
    kbps: float


def decide(
    src: Path,
    info: MediaInfo,
    rungs: Sequence[Rung],
    workdir: Path,
    *,
    policy: Policy | None = None,
    settings: EncodeSettings | None = None,
    timeout: float | None = None,
    niceness: int = 0,
    on_progress: ProgressCallback | None = None,
) -> LadderDecision:
    """The per-title ladder for `rungs` (largest first; the last is the lead, kept as it is). Its
    ffmpeg runs at `niceness` (runner.run_ffmpeg): beside a lead encode, it gives way to it.
    `on_progress` is called with 0.0 while it runs, to stop it (by raising) when the job is cancelled."""
    settings = settings or EncodeSettings()
    policy = policy or Policy()
    if EncoderProfile(settings.encoder).name != CPU_ENCODER:
        return fixed_ladder(rungs, f"{settings.encoder}: CRF targets are measured for libx264")
    workdir.mkdir(parents=True, exist_ok=True)
    fixed_caps = {r.name: r.maxrate_kbps for r in rungs}
    try:
        run = _Runner(timeout, niceness, on_progress)
        sample, sample_info = make_sample(src, info, workdir / "sample.mkv", run)
        nth = PROBE_NTH if len(sample_spans(info.duration)) > 1 else quality.FULL_PASS_NTH
        *analysed, lead = rungs
        # Round one is the fixed recipe at every rung; round two a step from it towards the target.
        fixed = {r.name: float(settings.crf) for r in rungs}
        round1 = _probe_round(sample, sample_info, rungs, fixed, fixed_caps, workdir / "round1", settings, run, nth)
        second = {r.name: _second_crf(round1[r.name], i, policy) for i, r in enumerate(analysed)}
        caps = {r.name: _probe_cap(r, i, second[r.name], settings.crf, policy) for i, r in enumerate(analysed)}
        round2 = _probe_round(sample, sample_info, analysed, second, caps, workdir / "round2", settings, run, nth)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    choices = [
        _choose(r, i, (round1[r.name], round2[r.name]), fixed_caps[r.name], caps[r.name], policy, settings.crf)
        for i, r in enumerate(analysed)
    ]
    lead_probe = round1[lead.name]
    choices.append(
        RungChoice(
            lead.name,
            float(settings.crf),
            lead.maxrate_kbps,
            None,
            round(lead_probe.vmaf, 2),
            round(lead_probe.kbps),
            note="the lead rung: encoded before the analysis, with the fixed recipe",
        )
    )
    span = sum(length for _, length in sample_spans(info.duration))
    return LadderDecision(
        PER_TITLE, f"chosen from {span:.1f} s of samples", tuple(drop_redundant(choices, policy)), span
    )


def _probe_cap(rung: Rung, position: int, crf: float, fixed_crf: float, policy: Policy) -> int:
    """The cap of the second probe: raised to the ceiling where the top rung needs more bits."""
    return int(rung.maxrate_kbps * policy.ceiling) if position == 0 and crf < fixed_crf else rung.maxrate_kbps


def _second_crf(probe: Probe, position: int, policy: Policy) -> float:
    """The second round's CRF, from the fixed recipe's probe: the top rung steps towards its target
    (plus the margin), a lower rung always to the cheaper side, as it never gets more bits."""
    low, high = policy.crf_range
    towards = position == 0 and probe.vmaf < policy.target(0) + policy.top_margin
    return min(high, max(low, probe.crf - CRF_STEP if towards else probe.crf + CRF_STEP))


def _choose(
    rung: Rung,
    position: int,
    probes: tuple[Probe, Probe],
    fixed_cap: int,
    probe_cap: int,
    policy: Policy,
    fixed_crf: float,
) -> RungChoice:
    """The CRF on the line through the two probes that meets the target, within the allowed range,
    and the cap that lets it (above the fixed cap only where the encode needs more).

    A lower rung that the fixed recipe does not bring to its target (a small picture scaled up to
    the source's size has a ceiling of its own) aims `drop_margin` below what the fixed recipe
    gives: as for a dropped rung, a point of VMAF is not worth the bits it costs there."""
    target = policy.target(position)
    low, high = policy.crf_range
    a, b = sorted(probes, key=lambda p: p.crf)
    aim, why = target + policy.top_margin, f"aimed at VMAF {target:g} (+{policy.top_margin:g} for the sample)"
    if position == 0:
        recipe = next(p for p in probes if p.crf == fixed_crf)  # round one: the fixed recipe itself
        if recipe.vmaf >= target:  # the margin is for spending less: never more than the fixed recipe
            low, probe_cap = max(low, fixed_crf), fixed_cap
            why += f", at most the fixed recipe, which reaches {target:g} ({recipe.vmaf:.1f})"
        else:  # to the target itself, for no more than `ceiling` times the fixed recipe's bits
            aim, why = target, f"aimed at VMAF {target:g}, short of it under the fixed recipe ({recipe.vmaf:.1f})"
            low = max(low, _crf_at_rate(a, b, policy.ceiling * recipe.kbps))
    else:
        aim, why = target, f"aimed at VMAF {target:g}"
        low = max(low, fixed_crf)
        at_fixed = _on_the_line(a, b, 0.0, fixed_crf, fixed_crf)[1]
        if at_fixed - policy.drop_margin < target:
            aim = at_fixed - policy.drop_margin
            why = f"VMAF {target:g} out of reach: aimed {policy.drop_margin:g} below the fixed recipe's {at_fixed:.1f}"
    crf, vmaf = _on_the_line(a, b, aim, low, high)
    if position == 0 and vmaf < target - OUT_OF_REACH:
        return _out_of_reach(rung.name, target, (crf, vmaf), (a, b), fixed_cap, fixed_crf)
    kbps = _log_interpolate(a, b, crf)
    cap = min(probe_cap, max(fixed_cap, int(2 * kbps)))
    kbps = min(kbps, cap)  # the line knows nothing of the cap
    met = "meets it" if vmaf >= aim - 0.5 else "the most the allowed CRF and cap reach"
    return RungChoice(rung.name, crf, cap, target, round(vmaf, 2), round(kbps), note=f"{why}: CRF {crf:g} {met}")


def _out_of_reach(
    name: str, target: float, best: tuple[float, float], probes: tuple[Probe, Probe], fixed_cap: int, fixed_crf: float
) -> RungChoice:
    """A top rung that no allowed CRF and cap bring near its target: the fixed recipe."""
    a, b = probes
    slope = (b.vmaf - a.vmaf) / (b.crf - a.crf) if b.crf != a.crf else 0.0
    vmaf = min(100.0, a.vmaf + slope * (fixed_crf - a.crf))
    kbps = min(float(fixed_cap), _log_interpolate(a, b, fixed_crf))
    why = f"VMAF {target:g} out of reach ({best[1]:.1f} at CRF {best[0]:g} and the raised cap): the fixed recipe"
    return RungChoice(name, fixed_crf, fixed_cap, target, round(vmaf, 2), round(kbps), note=why)


# A top rung that the lowest CRF and the raised cap leave further than this below its target is
# noise to VMAF (white noise, a fractal zoom): it keeps the fixed recipe rather than doubling its bits.
OUT_OF_REACH = 6.0
# Below this fall in VMAF per CRF step, the two probes say that more bits buy nothing.
FLAT_SLOPE = -0.05


def _on_the_line(a: Probe, b: Probe, target: float, low: float, high: float) -> tuple[float, float]:
    """The CRF (in half steps, within [low, high]) at which the line through probes `a` and `b`
    (a.crf < b.crf) reaches `target`, and the VMAF the line gives there. Where it is flat or rises
    (noise, or a binding cap), the cheaper probe unless only the other reaches the target."""
    slope = (b.vmaf - a.vmaf) / (b.crf - a.crf) if b.crf != a.crf else 0.0
    if slope >= FLAT_SLOPE:
        best = b if b.vmaf >= min(target, a.vmaf) else a
        return best.crf, best.vmaf
    crf = round(min(high, max(low, a.crf + (target - a.vmaf) / slope)) * 2) / 2
    return crf, min(100.0, a.vmaf + slope * (crf - a.crf))


def _log_interpolate(a: Probe, b: Probe, crf: float) -> float:
    """The bitrate at `crf`: the rate falls geometrically with CRF (about half per 6 with x264)."""
    if b.crf == a.crf or a.kbps <= 0 or b.kbps <= 0:
        return a.kbps
    t = (crf - a.crf) / (b.crf - a.crf)
    return math.exp(math.log(a.kbps) + t * (math.log(b.kbps) - math.log(a.kbps)))


def _crf_at_rate(a: Probe, b: Probe, kbps: float) -> float:
    """The lowest CRF (in half steps) whose rate on the line through `a` and `b` is at most `kbps`."""
    if b.crf == a.crf or min(a.kbps, b.kbps, kbps) <= 0 or a.kbps == b.kbps:
        return -math.inf
    t = (math.log(kbps) - math.log(a.kbps)) / (math.log(b.kbps) - math.log(a.kbps))
    return math.ceil((a.crf + t * (b.crf - a.crf)) * 2) / 2


def drop_redundant(choices: Sequence[RungChoice], policy: Policy) -> list[RungChoice]:
    """Drop each rung (upwards from the lead) that scores within `drop_margin` of the kept rung below
    it at more bits: a player would switch up to it and show nothing better."""
    kept: list[RungChoice] = []
    below: RungChoice | None = None
    for choice in reversed(choices):
        if (
            below is not None
            and choice.target_vmaf is not None
            and choice.predicted_vmaf is not None
            and below.predicted_vmaf is not None
            and choice.predicted_vmaf < below.predicted_vmaf + policy.drop_margin
            and (choice.predicted_kbps or 0) > (below.predicted_kbps or 0)
        ):
            why = (
                f"within {policy.drop_margin:g} VMAF point of {below.name} ({choice.predicted_vmaf:.1f} against"
                f" {below.predicted_vmaf:.1f}) at more bits ({choice.predicted_kbps} against"
                f" {below.predicted_kbps} kb/s)"
            )
            kept.append(replace(choice, dropped=why))
            continue
        kept.append(choice)
        below = choice
    return list(reversed(kept))


@dataclass(frozen=True)
class _Runner:
    """How the analysis runs its ffmpeg: its deadline and CPU priority."""

    timeout: float | None = None
    niceness: int = 0
    on_progress: ProgressCallback | None = None

    def check(self, fraction: float) -> None:
        """The caller's callback with no progress to report: the analysis is not the encode."""
        if self.on_progress is not None:
            self.on_progress(0.0)

    def __call__(self, cmd: list[str]) -> None:
        run_ffmpeg(cmd, timeout=self.timeout, niceness=self.niceness, on_progress=self.check, what="The analysis")


def make_sample(src: Path, info: MediaInfo, out: Path, run: _Runner | None = None) -> tuple[Path, MediaInfo]:
    """The stretches of the source the analysis encodes, joined, upright, at its display size and at
    most MAX_FPS, stored losslessly: every probe and the VMAF reference read the same frames."""
    fps = min(info.frame_rate or 30.0, MAX_FPS)
    parts = []
    for start, length in sample_spans(info.duration):
        picture = ffmpeg.input(str(src), **SAFE_INPUT_OPTIONS, ss=f"{start:.3f}", t=f"{length:.3f}")
        picture = picture[str(info.video_stream_index)].filter("fps", fps)
        parts.append(picture.filter("scale", info.width, info.height).filter("setsar", 1).filter("format", "yuv420p"))
    joined = ffmpeg.concat(*parts, v=1, a=0) if len(parts) > 1 else parts[0]
    cmd = joined.output(str(out), vcodec="libx264", preset="ultrafast", qp=0, an=None).compile(cmd="ffmpeg")
    cmd[1:1] = QUIET_ARGS
    (run or _Runner())(cmd)
    length = sum(length for _, length in sample_spans(info.duration))
    sample_info = replace(
        info, duration=length, frame_rate=fps, rotation=0, video_stream_index=0, has_audio=False, start_time=0.0
    )
    return out, sample_info


def _probe_round(
    sample: Path,
    info: MediaInfo,
    rungs: Sequence[Rung],
    crfs: dict[str, float],
    caps: dict[str, int],
    workdir: Path,
    settings: EncodeSettings,
    run: _Runner,
    nth: int,
) -> dict[str, Probe]:
    """Encode the sample at every rung (its CRF in `crfs`, its cap in `caps`) from one decode, and
    score each with VMAF against the sample."""
    workdir.mkdir(parents=True, exist_ok=True)
    profile = EncoderProfile(CPU_ENCODER)
    gop = max(1, round(keyframe_interval(info.frame_rate) * (info.frame_rate or 30.0)))
    copies = ffmpeg.input(str(sample)).video.filter_multi_output("split", len(rungs))
    outputs, paths = [], {}
    for i, rung in enumerate(rungs):
        paths[rung.name] = workdir / f"{rung.name}.mp4"
        args = profile.output_args(preset=settings.preset, crf=crfs[rung.name], maxrate_kbps=caps[rung.name], gop=gop)
        sized = copies.stream(i).filter("scale", rung.width, rung.height).filter("setsar", 1)
        outputs.append(sized.output(str(paths[rung.name]), **args))
    cmd = ffmpeg.merge_outputs(*outputs).compile(cmd="ffmpeg")
    cmd[1:1] = QUIET_ARGS
    run(cmd)
    videos = [describe_video(name, path) for name, path in paths.items()]
    scores = quality.measure_vmaf(
        sample,
        info,
        videos,
        workdir / "vmaf",
        window_count=1,
        timeout=run.timeout,
        niceness=run.niceness,
        on_progress=run.check,
        nth=nth,
    )
    return {v.name: Probe(v.name, crfs[v.name], scores[v.name], v.bitrate / 1000) for v in videos}
