"""The client's address behind reverse proxies we trust (MEDIA_TRUSTED_PROXIES), for the
sign-in lock (django-axes' AXES_CLIENT_IP_CALLABLE).

Each proxy appends the address it was reached from to X-Forwarded-For, so the header is read
from the right: entries written by trusted proxies are skipped, and the first address that is
not one of them is the client. Whatever lies further left the client wrote itself and is never
read. Without trusted proxies (the default, a direct connection) the header is ignored.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR")
    trusted = _networks(tuple(settings.MEDIA_TRUSTED_PROXIES))
    if not trusted or not _is_trusted(remote, trusted):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    client = remote
    for hop in reversed(hops):
        client = hop
        if not _is_trusted(hop, trusted):
            break
    return client if _address(client) else remote  # a proxy that wrote no address: its own, as before


@cache
def _networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def _address(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value or "")
    except ValueError:
        return None


def _is_trusted(value: str | None, trusted: tuple[Network, ...]) -> bool:
    address = _address(value)
    return address is not None and any(address in network for network in trusted)
