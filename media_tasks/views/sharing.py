"""Unlisted sharing: a page anyone with the link may open without an account, an embed made for
iframes on other sites, and the owner's switch that turns them on and off."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_POST

from .. import presenters, selectors, services
from . import asset_page, login_required_or_401


@require_GET
def shared(request: HttpRequest, token: str) -> HttpResponse:
    asset = selectors.asset_get_shared(token=token)
    return _unlisted(render(request, "media_tasks/shared.html", presenters.shared_media(asset=asset)))


@require_GET
@xframe_options_exempt
def shared_embed(request: HttpRequest, token: str) -> HttpResponse:
    """The player alone, for an iframe on any site: the only page that may be framed. Once
    sharing stops (or for a link never made), a small framable page says the video is not
    available, where a 404 that forbids framing showed the browser's broken-frame icon."""
    try:
        asset = selectors.asset_get_shared(token=token)
    except Http404:
        response = render(request, "media_tasks/embed_unavailable.html", status=404)
        response.frame_ancestors = "*"  # whichever site framed it shows why it is gone
    else:
        response = render(request, "media_tasks/embed.html", presenters.shared_media(asset=asset))
        # The page's CSP (middleware.ContentSecurityPolicyMiddleware): the owner's sites, or any.
        response.frame_ancestors = " ".join(asset.embed_origins) or "*"
    return _unlisted(response)


def _unlisted(response: HttpResponse) -> HttpResponse:
    response["X-Robots-Tag"] = "noindex"  # unlisted: not for search engines
    response["Referrer-Policy"] = "no-referrer"  # the link is the secret: never pass it on
    # No shared cache may keep it: it would go on handing it out after sharing stops.
    patch_cache_control(response, private=True, no_cache=True)
    return response


@login_required_or_401
@require_POST
def asset_share(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    on = request.POST.get("shared") == "on"
    services.asset_share(asset_id=asset.id, shared=on)
    messages.info(
        request, "Anyone with the link can watch it now." if on else "Sharing is off: the link no longer works."
    )
    return redirect("asset_detail", asset_id=asset.id)


@login_required_or_401
@require_POST
def asset_embed_origins(request: HttpRequest, asset_id: uuid.UUID) -> HttpResponse:
    """The sites that may frame the embed, from the share section: one per line (spaces or
    commas also part them); none, any site."""
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    text = request.POST.get("embed_origins", "")
    try:
        asset = services.asset_embed_origins_set(asset_id=asset.id, origins=text.replace(",", " ").split())
    except services.ServiceError as exc:
        return asset_page._refused(request, asset, embed_error=exc.message, embed_origins_text=text)
    messages.info(
        request, "Only these sites may embed it now." if asset.embed_origins else "Any site may embed it now."
    )
    return redirect("asset_detail", asset_id=asset.id)
