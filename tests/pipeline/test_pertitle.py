"""The per-title ladder (pipeline/pertitle.py): real probe encodes and VMAF on small generated clips,
and the choice rules on their own."""

import subprocess
from pathlib import Path

import pytest

from media_tasks.pipeline import pertitle, video
from media_tasks.pipeline.pertitle import LadderDecision, Policy, Probe, RungChoice
from media_tasks.pipeline.probe import probe
from media_tasks.pipeline.quality import measure_vmaf
from media_tasks.pipeline.streams import transcode_ladder
from tests.pipeline.test_video import LIMITS

LADDER = [480, 360, 240]
POLICY = Policy(targets=(93.0, 85.0))


# Soft gradients (a talking head's background), and the test pattern under temporal noise that the
# fixed cap starves (VMAF 89 at 480p) but a raised one serves. Noise of 20 put the best reach on
# pertitle.OUT_OF_REACH's line (87.0 here, 86.8 on CI), so the choice flipped between machines.
EASY = "gradients=s=854x480:r=30:speed=0.01:n=3"
HARD = "testsrc2=s=854x480:r=30,noise=alls=19:allf=t+u"


def _clip(path: Path, graph: str) -> Path:
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", graph, "-t", "3", "-pix_fmt", "yuv420p"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-crf", "8", str(path)),
        ],
        check=True,
    )
    return path


def _decided(tmp_path: Path, name: str, graph: str) -> tuple[Path, object, list[video.Rung], LadderDecision]:
    src = _clip(tmp_path / f"{name}.mp4", graph)
    info = probe(src, LIMITS)
    rungs = video.plan_ladder(info, LADDER)
    return src, info, rungs, pertitle.decide(src, info, rungs, tmp_path / f"{name}-analysis", policy=POLICY)


def test_an_easy_source_gets_a_lighter_ladder_than_a_hard_one_of_the_same_size(tmp_path):
    src, info, rungs, easy = _decided(tmp_path, "easy", EASY)
    _, _, _, hard = _decided(tmp_path, "hard", HARD)
    assert easy.policy == hard.policy == pertitle.PER_TITLE
    assert [c.name for c in easy.rungs] == [r.name for r in rungs]
    top_easy, top_hard = easy.rungs[0], hard.rungs[0]
    # The easy picture reaches its target on a fraction of the bits the hard one is given.
    assert top_easy.predicted_kbps * 4 < top_hard.predicted_kbps, (easy, hard)
    assert top_easy.maxrate_kbps == rungs[0].maxrate_kbps
    assert top_hard.maxrate_kbps > rungs[0].maxrate_kbps, "the hard source's cap rose to reach its target"
    # The lead keeps the fixed recipe: it is encoded before the analysis.
    assert easy.rungs[-1].crf == hard.rungs[-1].crf == video.CRF
    assert not (tmp_path / "easy-analysis").exists(), "the analysis cleans up after itself"

    # What was predicted holds for the real encode of the whole clip. The easy picture's 480p may
    # be dropped as no better than its 360p, so the check takes the highest rung kept.
    ladder = transcode_ladder(src, info, easy.apply(rungs), tmp_path / "out")
    scores = measure_vmaf(src, info, ladder.describe(), tmp_path / "vmaf")
    kept = next(c for c in easy.rungs if not c.dropped)
    assert set(scores) == {c.name for c in easy.rungs if not c.dropped}
    assert scores[kept.name] == pytest.approx(kept.predicted_vmaf, abs=3), (scores, kept)


def test_the_lower_rungs_never_get_more_than_the_fixed_recipe(tmp_path):
    _, _, rungs, hard = _decided(tmp_path, "hard", HARD)
    fixed = {r.name: r.maxrate_kbps for r in rungs}
    for choice in hard.rungs[1:]:
        assert choice.crf >= video.CRF and choice.maxrate_kbps == fixed[choice.name], choice


def _choice(name: str, vmaf: float, kbps: int, target: float | None = 90.0) -> RungChoice:
    return RungChoice(name, 25.0, 1000, target, vmaf, kbps)


def test_a_rung_that_shows_nothing_better_than_the_one_below_is_dropped_and_says_why():
    choices = [_choice("1080p", 95.5, 3000), _choice("720p", 95.0, 1500), _choice("360p", 80.0, 400, None)]
    kept = pertitle.drop_redundant(choices, Policy())
    assert [c.dropped == "" for c in kept] == [False, True, True]
    assert "within 1 VMAF point of 720p (95.5 against 95.0) at more bits (3000 against 1500 kb/s)" in kept[0].dropped
    rungs = [
        video.Rung("1080p", 1920, 1080, 5000),
        video.Rung("720p", 1280, 720, 2200),
        video.Rung("360p", 640, 360, 550),
    ]
    decision = LadderDecision(pertitle.PER_TITLE, "test", tuple(kept))
    assert [r.name for r in decision.apply(rungs)] == ["720p", "360p"]
    # A rung as good but cheaper than the one below it is kept: it costs nothing.
    assert not pertitle.drop_redundant([_choice("720p", 90.5, 300), _choice("480p", 90.0, 400)], Policy())[0].dropped


def test_a_decision_survives_the_database_and_applies_its_settings():
    rungs = [video.Rung("720p", 1280, 720, 2200), video.Rung("360p", 640, 360, 550)]
    decision = LadderDecision(
        pertitle.PER_TITLE,
        "test",
        (RungChoice("720p", 29.5, 2200, 85.0, 85.2, 900), _choice("360p", 70.0, 300, None)),
        6.0,
    )
    again = LadderDecision.from_dict(decision.as_dict())
    assert again == decision
    assert [(r.name, r.crf, r.maxrate_kbps) for r in again.apply(rungs)] == [("720p", 29.5, 2200), ("360p", 25.0, 1000)]


def test_the_fixed_ladder_is_today_s_recipe():
    rungs = [video.Rung("720p", 1280, 720, 2200), video.Rung("360p", 640, 360, 550)]
    fixed = pertitle.fixed_ladder(rungs, "MEDIA_PER_TITLE=0")
    assert fixed.policy == pertitle.FIXED
    assert [(r.name, r.crf, r.maxrate_kbps) for r in fixed.apply(rungs)] == [("720p", 23, 2200), ("360p", 23, 550)]


@pytest.mark.parametrize(
    ("a", "b", "target", "expected"),
    [
        (Probe("r", 21, 96.0, 0), Probe("r", 25, 92.0, 0), 93.0, (24.0, 93.0)),  # on the line
        (Probe("r", 25, 99.0, 0), Probe("r", 29, 98.0, 0), 93.0, (34.0, 96.8)),  # far above: the cheapest allowed
        (Probe("r", 21, 88.0, 0), Probe("r", 25, 88.2, 0), 93.0, (25.0, 88.2)),  # flat: more bits buy nothing
    ],
)
def test_the_crf_is_read_off_the_line_through_the_two_probes(a, b, target, expected):
    crf, vmaf = pertitle._on_the_line(a, b, target, 18.0, 34.0)
    assert (crf, round(vmaf, 1)) == expected


def test_short_sources_are_sampled_in_one_window_and_longer_ones_in_three():
    assert pertitle.sample_spans(8.0) == [(3.2, 1.6)]  # a fifth, from the middle
    assert pertitle.sample_spans(40.0) == [(9.5, 1.0), (19.5, 1.0), (29.5, 1.0)]
    assert [(round(s), n) for s, n in pertitle.sample_spans(600.0)] == [(150, 1.0), (300, 1.0), (450, 1.0)]


def test_a_lower_rung_out_of_reach_of_its_target_aims_a_point_below_the_fixed_recipe():
    rung = video.Rung("720p", 1280, 720, 2211)
    probes = (Probe("720p", 25, 58.0, 1600), Probe("720p", 23, 60.0, 2000))
    choice = pertitle._choose(rung, 1, probes, 2211, 2211, Policy(targets=(93.0, 85.0)), 23)
    assert (choice.crf, choice.predicted_vmaf, choice.maxrate_kbps) == (24.0, 59.0, 2211)
    assert choice.predicted_kbps < 2000
    assert choice.note.startswith("VMAF 85 out of reach: aimed 1 below the fixed recipe's 60.0")
    # Within reach, the target itself.
    reachable = (Probe("720p", 25, 86.0, 1600), Probe("720p", 29, 82.0, 1000))
    assert pertitle._choose(rung, 1, reachable, 2211, 2211, Policy(targets=(93.0, 85.0)), 23).crf == 26.0


def test_a_top_rung_that_even_the_raised_cap_leaves_far_below_its_target_keeps_the_fixed_recipe():
    rung = video.Rung("1080p", 1920, 1080, 4976)
    # Noise to VMAF: the fixed recipe (CRF 23) scores 55, CRF 19 at twice the cap 60.
    hopeless = (Probe("1080p", 23, 55.0, 4976), Probe("1080p", 19, 60.0, 9900))
    choice = pertitle._choose(rung, 0, hopeless, 4976, 9952, Policy(), 23)
    assert (choice.crf, choice.maxrate_kbps, choice.predicted_vmaf) == (23.0, 4976, 55.0), choice
    assert choice.note == "VMAF 93 out of reach (60.0 at CRF 19 and the raised cap): the fixed recipe"
    # Within reach of the ceiling, the cap rises.
    hard = (Probe("1080p", 23, 86.0, 4976), Probe("1080p", 19, 90.0, 8000))
    raised = pertitle._choose(rung, 0, hard, 4976, 9952, Policy(), 23)
    assert raised.maxrate_kbps > 4976 and raised.crf == 18.0, raised


def test_a_top_rung_is_never_given_more_than_the_ceiling_times_the_bits_of_the_fixed_recipe():
    # A dim, grainy picture far under the cap: CRF 18 would code the grain at many times the rate
    # for a point of VMAF. The fixed recipe (CRF 23) spends 160 kb/s on it.
    rung = video.Rung("1080p", 1920, 1080, 4976)
    grain = (Probe("1080p", 23, 91.0, 160), Probe("1080p", 19, 92.6, 400))
    choice = pertitle._choose(rung, 0, grain, 4976, 9952, Policy(), 23)
    assert choice.crf == 20.0 and choice.predicted_kbps <= 2 * 160, choice
    assert choice.note.endswith("CRF 20 the most the allowed CRF and cap reach")


def test_a_top_rung_that_the_fixed_recipe_brings_to_its_target_never_gets_more_bits():
    # Grain under the fixed cap scores 93.5; more bits would lift it to 95 at twice the rate.
    rung = video.Rung("1080p", 1920, 1080, 4976)
    probes = (Probe("1080p", 23, 93.5, 4976), Probe("1080p", 19, 95.0, 9800))
    choice = pertitle._choose(rung, 0, probes, 4976, 9952, Policy(), 23)
    assert (choice.crf, choice.maxrate_kbps) == (23.0, 4976), choice
    assert "at most the fixed recipe, which reaches 93 (93.5)" in choice.note
