from django.conf import settings
from django.http import HttpRequest


def links(request: HttpRequest) -> dict[str, str]:
    """Links to the tools beside the app (Flower), for staff pages and the admin."""
    return {"flower_url": settings.FLOWER_URL or f"http://127.0.0.1:{settings.FLOWER_PORT}/"}
