from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from media_tasks.api import api

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="asset_list", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("media_tasks.urls")),
]

handler404 = "media_tasks.views.not_found"
