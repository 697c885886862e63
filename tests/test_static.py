"""The vendored browser libraries are there and collectstatic's manifest accepts them (as `make run` needs);
the templates and the site's icon are sound."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent


def test_collectstatic_with_the_manifest_storage_succeeds(tmp_path):
    for name in ("uppy.min.js", "uppy.min.css", "hls.min.js", "htmx.min.js", "dash.mediaplayer.min.js"):
        assert (ROOT / "static" / "vendor" / name).is_file(), f"{name}: run scripts/vendor-static.sh"
    env = {"DJANGO_SETTINGS_MODULE": "mediaplatform.settings", "DJANGO_SECRET_KEY": "x", "PATH": "/usr/bin:/bin"}
    code = (
        "import django; from django.conf import settings; "
        f"settings.STATIC_ROOT = {str(tmp_path)!r}; django.setup(); "
        "from django.core.management import call_command; call_command('collectstatic', interactive=False, verbosity=0)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    assert any(tmp_path.glob("vendor/uppy.min.*.js")), "hashed names written"


def test_no_template_comment_spans_lines():
    """Django's {# #} holds one line only: one that spans lines is shown on the page as text."""
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        for number, line in enumerate(template.read_text().splitlines(), 1):
            assert "{#" not in line or "#}" in line, f"{template}:{number} opens a comment it does not close"


@pytest.mark.django_db
def test_the_icon_is_there_for_pages_and_for_favicon_ico(client):
    assert '<link rel="icon"' in client.get(reverse("login")).content.decode()
    old_way = client.get("/favicon.ico")
    assert old_way.status_code == 301 and old_way["Location"].endswith(".svg")
