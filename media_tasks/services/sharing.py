"""Where an asset's embed may be framed: the owner's list of sites (origins), sent by the embed
as CSP `frame-ancestors`; an empty list lets any site frame it (the default)."""

from __future__ import annotations

import ipaddress
import re
import uuid
from urllib.parse import urlsplit

from ..models import EMBED_ORIGINS_MAX, Asset
from .errors import ServiceError

FIELD = "embed_origins"
# A DNS name as CSP takes it (letters, digits, hyphens in dot-separated labels): nothing that
# could end the directive (`;`, `,`, spaces) or name another source (`*`, `'self'`).
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def asset_embed_origins_set(*, asset_id: uuid.UUID | str, origins: list[str]) -> Asset:
    """Let only these sites frame the asset's embed ([]: any site). Each must be an http(s)
    origin (`https://blog.example.com`, a port allowed, no path); at most EMBED_ORIGINS_MAX.
    Stored in their canonical form, once each; anything else is a ServiceError (422) naming the field."""
    if len(origins) > EMBED_ORIGINS_MAX:
        raise ServiceError(f"At most {EMBED_ORIGINS_MAX} sites may be listed.", status=422, field=FIELD)
    cleaned = list(dict.fromkeys(embed_origin(value) for value in origins))
    asset = Asset.objects.get(pk=asset_id)
    asset.embed_origins = cleaned
    asset.save(update_fields=["embed_origins", "updated_at"])
    return asset


def embed_origin(value: str) -> str:
    """`value` as an origin (`scheme://host[:port]`, lower case, no default port), or ServiceError."""
    refused = ServiceError(
        f"{value[:100]!r} is not a site's address like https://blog.example.com (http or https, no path).",
        status=422,
        field=FIELD,
    )
    parts = urlsplit(value.strip())
    try:
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError) as exc:
        raise refused from exc
    if (
        parts.scheme.lower() not in ("http", "https")
        or "@" in parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise refused
    try:
        address = ipaddress.ip_address(host)
        host = f"[{address}]" if address.version == 6 else str(address)
    except ValueError:
        if not _HOST.match(host):
            raise refused from None
    default = {"http": 80, "https": 443}[parts.scheme.lower()]
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port not in (None, default) else "")
