"""Another user's asset, upload or webhook is a 404 on every endpoint and page; nothing changes."""

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from media_tasks import services
from media_tasks.models import Asset, Job, Upload, WebhookEndpoint
from media_tasks.services import uploads as upload_service

pytestmark = pytest.mark.django_db

# url name → (method, kind of object in the path)
API_OBJECT_ENDPOINTS = {
    "upload_get": ("get", "upload"),
    "upload_parts": ("get", "upload"),
    "upload_part_url": ("post", "upload_part"),
    "upload_part_put": ("put", "upload_part"),
    "upload_complete": ("post", "upload"),
    "upload_abort": ("delete", "upload"),
    "asset_get": ("get", "asset"),
    "asset_update": ("patch", "asset"),
    "asset_delete": ("delete", "asset"),
    "asset_retry": ("post", "asset"),
    "asset_reencode": ("post", "asset"),
    "asset_cancel": ("post", "asset"),
    "asset_poster_upload": ("post", "asset"),
    "caption_add": ("post", "asset"),
    "caption_list": ("get", "asset"),
    "caption_delete": ("delete", "asset_language"),
    "webhook_delete": ("delete", "webhook"),
    "webhook_deliveries": ("get", "webhook"),
}
# Collections are scoped to the caller: checked below by what they list.
API_COLLECTIONS = {"upload_start", "asset_create", "asset_list", "webhook_list", "webhook_create"}
PAGES = {
    "asset_detail": "get",
    "asset_status": "get",
    "asset_retry": "post",
    "asset_cancel": "post",
    "asset_edit": "post",
    "asset_share": "post",
    "asset_poster_time": "post",
    "asset_poster_image": "post",
    "asset_caption_add": "post",
}


@pytest.fixture
def alices(user, fs_storage, settings):
    settings.MEDIA_WEBHOOK_ALLOW_PRIVATE = True
    asset_job = services.asset_create(owner=user, fileobj=_file(), filename="a.png", size_bytes=4).job
    Job.objects.filter(pk=asset_job.pk).update(status=Job.Status.FAILED)
    upload = upload_service.upload_start(owner=user, filename="b.mp4", size_bytes=10)
    hook = services.webhook_endpoint_create(owner=user, url="http://127.0.0.1:9/hook")
    return {"asset": asset_job.asset_id, "upload": upload.id, "webhook": hook.pk}


def _file():
    import io

    return io.BytesIO(b"\x89PNG")


def test_the_table_names_every_api_endpoint():
    names = {
        p.name
        for p in get_resolver().url_patterns
        if getattr(p, "namespace", None) == "api-1"
        for p in p.url_patterns
        if p.name
    }
    assert names - {"api-root", "openapi-json", "openapi-view"} == set(API_OBJECT_ENDPOINTS) | API_COLLECTIONS


@pytest.mark.parametrize("name", sorted(API_OBJECT_ENDPOINTS))
def test_api_objects_of_another_user_are_404(name, alices, other_api):
    method, kind = API_OBJECT_ENDPOINTS[name]
    args = {
        "upload": [alices["upload"]],
        "upload_part": [alices["upload"], 1],
        "asset": [alices["asset"]],
        "asset_language": [alices["asset"], "en"],
        "webhook": [alices["webhook"]],
    }[kind]
    body = '{"title": "taken"}' if method == "patch" else None  # a PATCH names what it changes
    response = getattr(other_api, method)(reverse(f"api-1:{name}", args=args), body, content_type="application/json")
    assert response.status_code == 404, (name, response.content)
    assert response.json()["error"]["code"] == "not_found"
    assert Asset.objects.filter(pk=alices["asset"], jobs__status=Job.Status.FAILED).count() == 1
    assert Upload.objects.get(pk=alices["upload"]).status == Upload.Status.OPEN
    assert WebhookEndpoint.objects.filter(pk=alices["webhook"]).exists()


def test_api_collections_show_only_the_callers_objects(alices, other_api):
    assert other_api.get(reverse("api-1:asset_list")).json()["count"] == 0
    assert other_api.get(reverse("api-1:webhook_list")).json() == []


@pytest.mark.parametrize("name", sorted(PAGES))
def test_pages_of_another_users_asset_are_404(name, alices, other_user):
    browser = Client()
    browser.force_login(other_user)
    response = getattr(browser, PAGES[name])(reverse(name, args=[alices["asset"]]))
    assert response.status_code == 404
    assert Job.objects.filter(asset_id=alices["asset"]).count() == 1  # no retry happened


def test_another_users_captions_cannot_be_deleted_from_the_page(alices, other_user):
    browser = Client()
    browser.force_login(other_user)
    assert browser.post(reverse("asset_caption_delete", args=[alices["asset"], "en"])).status_code == 404


@pytest.mark.parametrize("path", ["?fragment=live", "files/originals/source", "files/thumbs/sprite.vtt"])
def test_fragments_and_files_of_another_users_asset_are_404(path, alices, other_user):
    browser = Client()
    browser.force_login(other_user)
    base = reverse("asset_detail", args=[alices["asset"]])
    assert browser.get(base + path).status_code == 404
