"""My media: the owner's library, searched, sorted and paged, and deleting items from it."""

from __future__ import annotations

import contextlib
import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from .. import presenters, selectors, services
from ..models import Job
from . import login_required_or_401, unchanged_or

PAGE_SIZE = 24
SORTS = {"newest": "Newest first", "oldest": "Oldest first", "title": "Title", "size": "Largest first"}


@login_required_or_401
@require_GET
def asset_list(request: HttpRequest) -> HttpResponse:
    if request.GET.get("fragment") == "rows":
        return unchanged_or(
            request,
            f"{selectors.asset_list_etag(user=request.user)}-{request.GET.urlencode()}",
            lambda: render(request, "media_tasks/_asset_rows.html", _list_context(request)),
        )
    return render(request, "media_tasks/asset_list.html", _list_context(request))


def _list_context(request: HttpRequest) -> dict:
    search = request.GET.get("q", "")[:200]
    order = request.GET.get("sort", "newest") if request.GET.get("sort") in SORTS else "newest"
    found = selectors.asset_list_for(user=request.user, search=search, order=order)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    assets = selectors.assets_with_previews(assets=list(page.object_list))
    return {
        "cards": [presenters.asset_card(asset=asset) for asset in assets],
        "page": page,
        "search": search,
        "sort": order,
        "sorts": SORTS,
        "query": request.GET.copy(),
        "any_running": any(a.job_status not in Job.FINAL_STATUSES for a in assets),
    }


@login_required_or_401
@require_http_methods(["GET", "POST"])
def asset_delete(request: HttpRequest) -> HttpResponse:
    """Delete some of one's own items: GET asks to confirm (naming them), POST with `confirm` deletes.

    Ids that are not the user's are left out as if they did not exist."""
    ids = request.POST.getlist("ids") if request.method == "POST" else request.GET.getlist("ids")
    assets = list(selectors.asset_list_for(user=request.user).filter(pk__in=_uuids(ids)))
    if not assets:
        messages.info(request, "Nothing was chosen to delete.")
        return redirect("asset_list")
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        for asset in assets:
            services.asset_delete(asset_id=asset.id)
        messages.info(request, f"Deleted {len(assets)} item{'s' if len(assets) != 1 else ''}.")
        return redirect("asset_list")
    return render(request, "media_tasks/asset_delete.html", {"assets": assets})


def _uuids(values: list[str]) -> list[uuid.UUID]:
    """The well-formed ids among `values` (a malformed one is one that does not exist)."""
    valid = []
    for value in values[:500]:
        with contextlib.suppress(ValueError):
            valid.append(uuid.UUID(value))
    return valid
