"""Links to stored files: the URLs our pages use, the short-lived download and playback links
anyone holding them may fetch (signed, checked against the share on each request), and the
names files download under."""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .. import storage
from ..models import Asset, Rendition
from ..pipeline.identity import DOWNLOAD_PLAN

DOWNLOAD_SALT = "media_tasks.download"
PLAYBACK_SALT = "media_tasks.playback"


def asset_file_url(*, asset: Asset, key: str) -> str:
    """The URL our pages use for a stored file (ownership is checked when it is fetched)."""
    area, _, rest = key.split("/", 2)
    return reverse("asset_file", args=[asset.id, f"{area}/{rest}"])


def download_url(*, asset: Asset, key: str, shared: bool = False) -> str:
    """A short-lived URL anyone holding it may fetch: presigned S3 GET, or our signed link.

    For API clients and download links, which cannot rely on a browser session. `shared`: made
    for the shared page, so it dies with the share link: always our link, checked on each
    request (S3's presigned URLs cannot be revoked), which then sends the viewer on
    (file_redirect_url).
    """
    area, _, rest = key.split("/", 2)
    name = f"{area}/{rest}"
    assembled = key.endswith(f"/{DOWNLOAD_PLAN}")  # an MP4 put together when fetched: never one object
    if (
        not shared
        and not assembled
        and (url := storage.presigned_url(key, filename=download_name(asset=asset, name=name)))
    ):
        return url
    token = signing.dumps({"a": str(asset.id), "n": name, **_share(asset, shared)}, salt=DOWNLOAD_SALT)
    return reverse("file_signed", args=[token])


class SignedFile(NamedTuple):
    """A stored file a signed link names, and whether the link was made for a share (it dies with it)."""

    asset_id: uuid.UUID
    name: str  # download links: the public name (`renditions/720p.mp4`); playback links: the storage key
    shared: bool


def download_unsign(token: str) -> SignedFile:
    """The file a download_url token names; BadSignature if forged or expired,
    Asset.DoesNotExist if made for a share link that was turned off since."""
    data = signing.loads(token, salt=DOWNLOAD_SALT, max_age=settings.MEDIA_PRESIGNED_EXPIRY_S)
    _require_share(data)
    return SignedFile(uuid.UUID(data["a"]), data["n"], "s" in data)


def file_redirect_url(*, key: str, shared: bool, filename: str | None = None) -> str | None:
    """Where a signed link, once checked, sends the viewer on S3 (None on the filesystem: we
    stream it). For a shared link the presigned URL lives MEDIA_SHARED_REDIRECT_EXPIRY_S, the
    whole of what stopping sharing cannot take back at once."""
    expires_s = settings.MEDIA_SHARED_REDIRECT_EXPIRY_S if shared else None
    return storage.presigned_url(key, filename=filename, expires_s=expires_s)


def _share(asset: Asset, shared: bool) -> dict[str, str]:
    """What a link made for the shared page carries: the share secret it lives and dies with."""
    return {"s": asset.share_token} if shared and asset.share_token else {}


def _require_share(data: dict[str, Any]) -> None:
    if "s" in data and not Asset.objects.filter(pk=data["a"], share_token=data["s"]).exclude(share_token="").exists():
        raise Asset.DoesNotExist("sharing was turned off")


def playback_url(*, asset: Asset, shared: bool = False, name: str = "master.m3u8") -> str:
    """The HLS master playlist for players: `/play/<token>/master.m3u8`, valid for
    MEDIA_PLAYBACK_EXPIRY_S, for whoever holds it (no cookie). The playlists name their
    variants and segments relatively, so every file a player asks for stays under the
    signed prefix; the token names one asset of one owner and nothing else. `shared`: made for
    the shared page, so it stops working when sharing is turned off. `name`: another file under
    the same link (PLAYBACK_THUMBS)."""
    token = signing.dumps({"a": str(asset.id), "o": asset.owner_id, **_share(asset, shared)}, salt=PLAYBACK_SALT)
    return reverse("play", args=[token, name])


def playback_unsign(token: str) -> tuple[uuid.UUID, int]:
    """(asset id, owner id) from a playback_url token; BadSignature if forged, SignatureExpired if old."""
    data = _playback_data(token)
    return uuid.UUID(data["a"]), int(data["o"])


def _playback_data(token: str) -> dict[str, Any]:
    data = signing.loads(token, salt=PLAYBACK_SALT, max_age=settings.MEDIA_PLAYBACK_EXPIRY_S)
    _require_share(data)
    return data


# Besides the HLS, a playback link opens the scrubbing previews: the sprite's WebVTT map names
# its sheet relatively, so both stay under the link.
PLAYBACK_THUMBS = ("thumbs/sprite.vtt", "thumbs/sprite.jpg")


def playback_key(*, token: str, name: str) -> SignedFile:
    """The stored file named under a playback link (`name` is its storage key): the HLS, or PLAYBACK_THUMBS.

    BadSignature for a forged or expired token, Asset.DoesNotExist once the asset is gone (or
    its share, for a shared link), ValueError for any name that is not a file of that asset's
    HLS area (`..`, other areas).
    """
    data = _playback_data(token)
    asset = Asset.objects.only("id").get(pk=data["a"], owner_id=int(data["o"]))
    if name in PLAYBACK_THUMBS:
        return SignedFile(asset.id, storage.asset_key(storage.THUMBS, asset.id, name.partition("/")[2]), "s" in data)
    return SignedFile(asset.id, storage.asset_key(storage.HLS, asset.id, name), "s" in data)


def rendition_file_key(rendition: Rendition) -> str:
    """The stored file a rendition's links fetch: for a video rung, its MP4 download (the plan it is
    put together from, streams.py), else the rendition's own file."""
    if rendition.kind == Rendition.Kind.MP4 and rendition.storage_key.startswith(f"{storage.HLS}/"):
        return f"{rendition.storage_key.rsplit('/', 1)[0]}/{DOWNLOAD_PLAN}"
    return rendition.storage_key


def rendition_link(*, asset: Asset, rendition: Rendition, shared: bool = False) -> str:
    """The link a rendition is given by, for whoever holds it (no cookie): the HLS master, the DASH
    manifest and the sound's playlist under the playback link; a file (a rung's MP4, a still) as a
    download link."""
    if rendition.kind == Rendition.Kind.HLS:
        return playback_url(asset=asset, shared=shared)
    if rendition.kind in (Rendition.Kind.DASH, Rendition.Kind.AUDIO):
        return playback_url(asset=asset, shared=shared, name=rendition.storage_key.split("/", 2)[2])
    return download_url(asset=asset, key=rendition_file_key(rendition), shared=shared)


def asset_title(*, asset: Asset) -> str:
    """What the owner called it, or else its file name."""
    return asset.title or asset.original_filename


def download_name(*, asset: Asset, name: str) -> str:
    """The name a downloaded file is saved under: its title, then the file (`My trip-720p.mp4`);
    the original keeps the name it was uploaded with."""
    if name.startswith(f"{storage.ORIGINALS}/"):
        return asset.original_filename
    stem = asset.title or asset.original_filename.rsplit(".", 1)[0]
    stem = "".join(ch for ch in stem if ch.isprintable() and ch not in '/\\"').strip()[:100] or "media"
    return f"{stem}-{name.rsplit('/', 1)[-1]}"
