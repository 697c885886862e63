"""Personal API tokens: shown once, stored as a SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from ..models import ApiToken

_PREFIX = "mpt_"


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    # The only time the secret exists outside the client: show it, never store it.
    plaintext: str


def _hash(plaintext: str) -> str:
    # A fast hash is right here: the secret has 256 random bits, so there is nothing to brute-force.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def api_token_create(*, owner: AbstractBaseUser, name: str) -> NewToken:
    plaintext = _PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        owner=owner, name=name.strip()[:100] or "API token", prefix=plaintext[:12], key_hash=_hash(plaintext)
    )
    return NewToken(token=token, plaintext=plaintext)


def api_token_revoke(*, owner: AbstractBaseUser, token_id: int) -> bool:
    return bool(
        ApiToken.objects.filter(owner=owner, pk=token_id, revoked_at__isnull=True).update(revoked_at=timezone.now())
    )


def api_token_authenticate(*, plaintext: str) -> AbstractBaseUser | None:
    """The active user a live token belongs to, or None. Notes when it was last used."""
    if not plaintext.startswith(_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("owner")
        .filter(key_hash=_hash(plaintext), revoked_at__isnull=True, owner__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # at most a write a minute
    return token.owner
