"""Webhook target URLs: parsed once, by one strict parser whose result is both what is
checked and what the HTTP client is given, and checked against our own network (SSRF).

A URL that two parsers could read differently (`http://127.0.0.1\\@1.1.1.1/`: host
1.1.1.1 for urllib.parse, 127.0.0.1 for urllib3) is refused, not interpreted: only
plain `scheme://host[:port]/path?query` is accepted, and urllib3 (which `requests`
uses) must read the same host and port from it as we do.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from .errors import ServiceError

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NETLOC = re.compile(r"^(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9.-]+))(?::(?P<port>[0-9]{1,5}))?$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# IPv6 ranges that reach IPv4 networks or our own site in ways `is_global` does not see:
# IPv4-compatible (::a.b.c.d), local-use NAT64, Teredo, site-local.
_REFUSED_V6 = tuple(ipaddress.ip_network(n) for n in ("::/96", "64:ff9b:1::/48", "2001::/32", "fec0::/10"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # a lower-case DNS name, or an IP address without brackets
    port: int
    url: str  # rebuilt from the parts above: what is stored and what the client is given

    @property
    def is_literal(self) -> bool:
        return _ip_or_none(self.host) is not None


def _invalid(message: str) -> ServiceError:
    return ServiceError(message, code="invalid_url", field="url")


def _ip_or_none(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_target(url: str) -> Target:
    """The one reading of a webhook URL; refuses anything but plain `scheme://host[:port]/path?query`."""
    if not url.isascii() or any(c <= " " or c in "\\#\x7f" for c in url):
        raise _invalid("The URL may hold no spaces, control characters, backslashes, fragments or non-ASCII.")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise _invalid(f"This is not a URL: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _invalid("The URL must be http:// or https:// with a host.")
    if "@" in parts.netloc:
        raise _invalid("The URL may not carry a user name or password.")
    match = _NETLOC.match(parts.netloc.lower())
    if not match:
        raise _invalid("The URL must be http:// or https:// with a host, and a port if any in 1 to 65535.")
    host = _host(v6=match["v6"], name=match["name"])
    port = int(match["port"]) if match["port"] else _DEFAULT_PORTS[scheme]
    if not 1 <= port <= 65535:
        raise _invalid("The port must be in 1 to 65535.")
    in_url = f"[{host}]" if ":" in host else host
    netloc = f"{in_url}:{port}" if match["port"] else in_url
    rebuilt = f"{scheme}://{netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    _require_same_reading(url, host, port)
    _require_same_reading(rebuilt, host, port)
    return Target(scheme=scheme, host=host, port=port, url=rebuilt)


def _host(*, v6: str | None, name: str | None) -> str:
    if v6 is not None:
        address = _ip_or_none(v6)
        if not isinstance(address, ipaddress.IPv6Address):
            raise _invalid(f"[{v6}] is not an IPv6 address.")
        return str(address)
    name = name or ""  # the pattern matched one of the two
    if (address := _ip_or_none(name)) is not None:
        return str(address)
    labels = name.removesuffix(".").split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _invalid("The host name is not valid: labels of 1 to 63 letters, digits or dashes, dot-separated.")
    if labels[-1].isdigit() or _inet_aton_reads(name):
        # 0x7f.1 or 2130706433: C's inet_aton (and so the resolver) reads these as 127.0.0.1.
        raise _invalid("Write an IPv4 address as four decimal numbers (a.b.c.d).")
    return name


def _inet_aton_reads(name: str) -> bool:
    try:
        socket.inet_aton(name)
    except OSError:
        return False
    return True


def _require_same_reading(url: str, host: str, port: int) -> None:
    """urllib3 (the client's parser) must find the same host and port as we did."""
    try:
        theirs = parse_url(url)
    except LocationParseError as exc:
        raise _invalid("The HTTP client cannot read this URL.") from exc
    their_host = (theirs.host or "").strip("[]").lower()
    their_port = theirs.port or _DEFAULT_PORTS.get(theirs.scheme or "", 0)
    if _ip_or_none(their_host) is not None:
        their_host = str(_ip_or_none(their_host))
    if (their_host, their_port) != (host, port):
        raise _invalid("The URL reads differently to the HTTP client; write it plainly.")


def require_public(address: str) -> None:
    """Refuse an address in our own network, also one embedded in an IPv6 form (6to4, NAT64, mapped)."""
    if _is_ours(ipaddress.ip_address(address.split("%")[0])):
        raise ServiceError(
            "Webhook URLs must point to a public address, not a private, loopback or link-local one.",
            code="forbidden_target",
            field="url",
        )


def _is_ours(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if not ip.is_global or ip.is_multicast:
        return True
    if isinstance(ip, ipaddress.IPv4Address):
        return False
    if any(ip in network for network in _REFUSED_V6):
        return True
    embedded = [e for e in (ip.ipv4_mapped, ip.sixtofour) if e is not None]
    if ip in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return any(_is_ours(e) for e in embedded)


def check_target(url: str) -> Target:
    """Parse the URL and refuse one that would make us call into our own network (SSRF),
    unless MEDIA_WEBHOOK_ALLOW_PRIVATE; returns what to send to."""
    target = parse_target(url)
    if settings.MEDIA_WEBHOOK_ALLOW_PRIVATE:
        return target
    if target.is_literal:
        require_public(target.host)
        return target
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(target.host, target.port)}
    except (OSError, UnicodeError) as exc:
        raise _invalid(f"The host {target.host} does not resolve.") from exc
    for address in addresses:
        require_public(address)
    return target
