"""Idempotency-Key: a retried create request gets the first answer instead of a second asset.

As in Stripe's API: the key is the client's, scoped to its owner; the same key with a
different request is an error rather than a silent replay.
https://docs.stripe.com/api/idempotent_requests
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import IdempotencyRecord
from .errors import ServiceError

KEEP = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def idempotent(
    *,
    owner: AbstractBaseUser,
    key: str | None,
    operation: str,
    request_data: Any,
    run: Callable[[], tuple[int, dict]],
) -> tuple[int, dict]:
    """Run `run` (returning status and JSON body) once per key; replay its answer afterwards."""
    if not key:
        return run()
    if len(key) > MAX_KEY_LENGTH:
        raise ServiceError(f"Idempotency-Key is at most {MAX_KEY_LENGTH} characters.", code="invalid_idempotency_key")
    fingerprint = hashlib.sha256(
        json.dumps([operation, request_data], sort_keys=True, default=str).encode()
    ).hexdigest()
    fresh_since = timezone.now() - KEEP
    IdempotencyRecord.objects.filter(owner=owner, key=key, created_at__lt=fresh_since).delete()
    try:
        # Reserve the key first (status 0 = running), so two concurrent requests
        # with it cannot both create an asset.
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                owner=owner, key=key, fingerprint=fingerprint, status_code=0, response={}
            )
    except IntegrityError:
        return _replay(IdempotencyRecord.objects.get(owner=owner, key=key), fingerprint)
    try:
        status, body = run()
    except BaseException:
        record.delete()
        raise
    if status >= 400:
        record.delete()  # refusals are not remembered: the client may fix and retry
    else:
        IdempotencyRecord.objects.filter(pk=record.pk).update(status_code=status, response=body)
    return status, body


def _replay(record: IdempotencyRecord, fingerprint: str) -> tuple[int, dict]:
    if record.fingerprint != fingerprint:
        raise ServiceError(
            "This Idempotency-Key was used with a different request.", code="idempotency_key_reused", status=422
        )
    if record.status_code == 0:
        raise ServiceError(
            "A request with this Idempotency-Key is still running; retry in a moment.",
            code="idempotency_key_in_use",
            status=409,
        )
    return record.status_code, record.response
