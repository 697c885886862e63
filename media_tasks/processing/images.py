"""The image stage: JPEG and WebP at each configured width, upright and stripped of metadata."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings

from .. import storage
from ..models import Job, Rendition
from ..pipeline import images as image_ops
from ..pipeline.probe import IMAGE
from .runtime import record, require_kind, run_stage, source_copy
from .workflow import Status


def job_make_image_variants(*, job_id: uuid.UUID | str, worker: str = "") -> bool:
    """Every variant stored first, then its rows: a row never points at a missing file."""

    def work(job: Job, workdir: Path) -> None:
        asset = job.asset
        require_kind(asset, IMAGE)
        variants = image_ops.make_image_variants(
            source_copy(job, workdir),
            workdir / "images",
            settings.MEDIA_IMAGE_WIDTHS,
            max_pixels=settings.MEDIA_MAX_PIXELS,
        )
        keys = {v.name: storage.asset_key(storage.IMAGES, asset.id, v.name) for v in variants}
        for variant in variants:
            storage.upload_file(variant.path, keys[variant.name])
        for variant in variants:
            record(
                job,
                Rendition.Kind.IMAGE,
                variant.name,
                keys[variant.name],
                width=variant.width,
                height=variant.height,
                size_bytes=variant.size_bytes,
                codec=variant.format,
            )

    return run_stage(job_id=job_id, stage=Status.PROCESSING, worker=worker, work=work)
