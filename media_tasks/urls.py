from django.urls import path

from . import views
from .views import asset_page, library, sharing

urlpatterns = [
    path("upload/", views.asset_upload, name="asset_upload"),
    path("assets/", library.asset_list, name="asset_list"),
    path("assets/delete/", library.asset_delete, name="asset_delete"),
    path("assets/<uuid:asset_id>/", asset_page.asset_detail, name="asset_detail"),
    path("assets/<uuid:asset_id>/edit/", asset_page.asset_edit, name="asset_edit"),
    path("assets/<uuid:asset_id>/poster/", asset_page.asset_poster, name="asset_poster"),
    path("assets/<uuid:asset_id>/poster/time/", asset_page.asset_poster_time, name="asset_poster_time"),
    path("assets/<uuid:asset_id>/poster/image/", asset_page.asset_poster_image, name="asset_poster_image"),
    path("assets/<uuid:asset_id>/captions/", asset_page.asset_caption_add, name="asset_caption_add"),
    path(
        "assets/<uuid:asset_id>/captions/<str:language>/delete/",
        asset_page.asset_caption_delete,
        name="asset_caption_delete",
    ),
    path("assets/<uuid:asset_id>/share/", sharing.asset_share, name="asset_share"),
    path("assets/<uuid:asset_id>/embed-sites/", sharing.asset_embed_origins, name="asset_embed_origins"),
    path("s/<str:token>/", sharing.shared, name="shared"),
    path("embed/<str:token>/", sharing.shared_embed, name="shared_embed"),
    path("assets/<uuid:asset_id>/status/", views.asset_status, name="asset_status"),
    path("assets/<uuid:asset_id>/retry/", asset_page.asset_retry, name="asset_retry"),
    path("assets/<uuid:asset_id>/cancel/", asset_page.asset_cancel, name="asset_cancel"),
    path("assets/<uuid:asset_id>/files/<path:name>", views.asset_file, name="asset_file"),
    path("files/<str:token>", views.file_signed, name="file_signed"),
    path("play/<str:token>/<path:name>", views.play, name="play"),
    path("settings/tokens/", views.token_list, name="token_list"),
    path("metrics", views.metrics, name="metrics"),
    path("favicon.ico", views.favicon),
]
