"""The per-title ladder explained through the API (issue 30): the asset carries its job's `ladder`
decision as is, and each video rung its measured `vmaf` beside the `target_vmaf` it aimed at."""

import copy

import pytest

from media_tasks.models import Job
from tests.factories import LADDER, video_with_ladder

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)


def _rungs(body: dict) -> dict[str, dict]:
    return {r["profile"]: r for r in body["renditions"] if r["kind"] == "mp4"}


def test_each_rung_says_its_vmaf_and_the_target_it_aimed_at(api, user, fs_storage):
    asset = video_with_ladder(owner=user, vmaf={"1080p": 94.3, "480p": 82.9, "360p": None})
    body = api.get(f"/api/v1/assets/{asset.id}").json()
    assert body["ladder"] == LADDER, "the decision as the job made it, dropped rungs included"
    rungs = _rungs(body)
    assert sorted(rungs) == ["1080p", "360p", "480p"], "the dropped 720p was never made"
    assert (rungs["1080p"]["vmaf"], rungs["1080p"]["target_vmaf"]) == (94.3, 94.0)
    assert (rungs["480p"]["vmaf"], rungs["480p"]["target_vmaf"]) == (82.9, 82.0)
    assert (rungs["360p"]["vmaf"], rungs["360p"]["target_vmaf"]) == (None, None), "the lead: no target, not measured"
    others = [r for r in body["renditions"] if r["kind"] != "mp4"]
    assert others and all(r["vmaf"] is None and r["target_vmaf"] is None for r in others)


def test_a_re_encode_under_way_keeps_the_targets_its_files_were_made_for(api, user, fs_storage):
    asset = video_with_ladder(owner=user, vmaf={"1080p": 94.3, "360p": 70.0})
    fixed = {**copy.deepcopy(LADDER), "policy": "fixed", "reason": "MEDIA_PER_TITLE=0"}
    Job.objects.create(asset=asset, status=Job.Status.TRANSCODING, correlation_id="again", ladder=fixed)
    body = api.get(f"/api/v1/assets/{asset.id}").json()
    assert body["ladder"]["policy"] == "fixed", "the latest job's decision, beside its job_id"
    assert _rungs(body)["1080p"]["target_vmaf"] == 94.0, "the files still there were aimed at the first job's"


def test_a_video_from_before_per_title_ladders_has_an_empty_ladder(api, user, fs_storage):
    asset = video_with_ladder(owner=user, ladder={}, vmaf={"360p": 80.5})
    body = api.get(f"/api/v1/assets/{asset.id}").json()
    assert body["ladder"] == {}
    assert (_rungs(body)["360p"]["vmaf"], _rungs(body)["360p"]["target_vmaf"]) == (80.5, None)


def test_the_schema_documents_vmaf_and_the_ladder(api):
    components = api.get("/api/v1/openapi.json").json()["components"]["schemas"]
    rendition = components["RenditionOut"]["properties"]
    assert "VMAF" in rendition["vmaf"]["description"] and "aimed at" in rendition["target_vmaf"]["description"]
    ladder = components["AssetOut"]["properties"]["ladder"]
    assert "why" in ladder["description"]
    rung = components["LadderRungOut"]["properties"]
    assert {"name", "crf", "maxrate_kbps", "target_vmaf", "predicted_vmaf", "dropped"} <= set(rung)
    assert {"policy", "reason", "rungs"} <= set(components["LadderOut"]["properties"])
