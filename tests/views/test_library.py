"""My media as a library (issue 22): titles and previews, search, sort, pages with no cap, and
owners deleting their own items, one or several, after saying yes."""

import pytest
from django.urls import reverse

from media_tasks import services, storage
from media_tasks.models import Asset, Job
from tests.views.test_assets import no_broker, upload_file  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def bulk_assets(owner, names: list[str], size: int = 100) -> list[Asset]:
    assets = [
        Asset(owner=owner, original_filename=name, size_bytes=size + n, sha256=f"{n:064d}")
        for n, name in enumerate(names)
    ]
    for asset in assets:  # where an upload would have stored it (nothing is there)
        asset.original_key = storage.original_key(asset.id)
    Asset.objects.bulk_create(assets)
    Job.objects.bulk_create(Job(asset=a, status=Job.Status.SUCCEEDED) for a in assets)
    return assets


def titles(response) -> list[str]:
    return [card["title"] for card in response.context["cards"]]


def test_every_item_is_reachable_page_by_page_with_no_cap(alice_client, user):
    bulk_assets(user, [f"clip-{n:03d}.mp4" for n in range(230)])
    first = alice_client.get(reverse("asset_list"))
    assert first.context["page"].paginator.count == 230 and len(titles(first)) == 24
    seen = []
    for number in range(1, first.context["page"].paginator.num_pages + 1):
        seen += titles(alice_client.get(reverse("asset_list"), {"page": number, "sort": "title"}))
    assert seen == [f"clip-{n:03d}.mp4" for n in range(230)]  # none missing, none twice


def test_search_and_sort_by_title_and_size(alice_client, user):
    lake, *_ = bulk_assets(user, ["DSC_0001.mp4", "city.mp4", "zebra.mp4"], size=100)
    services.asset_update(asset_id=lake.id, title="Lake at dawn")
    found = alice_client.get(reverse("asset_list"), {"q": "lake"})
    assert titles(found) == ["Lake at dawn"] and "DSC_0001.mp4" in found.content.decode()
    assert titles(alice_client.get(reverse("asset_list"), {"q": "city"})) == ["city.mp4"]
    assert "Nothing matches" in alice_client.get(reverse("asset_list"), {"q": "nope"}).content.decode()
    assert titles(alice_client.get(reverse("asset_list"), {"sort": "title"})) == [
        "city.mp4",
        "Lake at dawn",
        "zebra.mp4",
    ]
    assert titles(alice_client.get(reverse("asset_list"), {"sort": "size"}))[0] == "zebra.mp4"


def test_owners_delete_several_items_after_confirming_and_never_anyone_elses(
    alice_client, user, other_user, fs_storage
):
    mine = [
        services.asset_create(
            owner=user, fileobj=upload_file(content=bytes([n]) * 64), filename=f"{n}.mp4", size_bytes=64
        ).job.asset
        for n in range(3)
    ]
    theirs = services.asset_create(
        owner=other_user, fileobj=upload_file(content=b"x" * 64), filename="t.mp4", size_bytes=64
    ).job.asset
    ids = [str(mine[0].id), str(mine[1].id), str(theirs.id), "not-a-uuid"]
    confirm = alice_client.get(reverse("asset_delete"), {"ids": ids})
    html = confirm.content.decode()
    assert confirm.status_code == 200 and "Delete 2 items?" in html and "0.mp4" in html and "t.mp4" not in html
    assert Asset.objects.count() == 4  # asking deletes nothing
    done = alice_client.post(reverse("asset_delete"), {"ids": ids, "confirm": "yes"})
    assert done.status_code == 302 and done["Location"] == reverse("asset_list")
    assert set(Asset.objects.values_list("id", flat=True)) == {mine[2].id, theirs.id}
    assert not storage.exists(mine[0].original_key) and storage.exists(theirs.original_key)
    assert "Deleted 2 items." in alice_client.get(reverse("asset_list")).content.decode()
