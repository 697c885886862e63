"""`manage.py storage_setup` on a new S3 (a moto_server with no bucket yet): it creates the
bucket, says so, sets the CORS rule, and says the bucket exists when run again."""

import io
import uuid

import pytest
from django.core.management import call_command

from tests.conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, s3_client


@pytest.fixture
def new_bucket(settings, s3_server) -> str:
    """S3 settings naming a bucket nobody has made yet."""
    bucket = f"fresh-{uuid.uuid4().hex[:10]}"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                **settings.S3_OPTIONS,
                "bucket_name": bucket,
                "endpoint_url": s3_server,
                "access_key": S3_ACCESS_KEY,
                "secret_key": S3_SECRET_KEY,
                "region_name": S3_REGION,
            },
        },
    }
    return bucket


def run_setup() -> str:
    out = io.StringIO()
    call_command("storage_setup", stdout=out)
    return out.getvalue()


def test_storage_setup_creates_a_missing_bucket_then_finds_it(new_bucket, s3_server, settings):
    client = s3_client(s3_server)
    assert new_bucket not in [b["Name"] for b in client.list_buckets()["Buckets"]]
    first = run_setup()
    assert f"Created bucket {new_bucket}" in first, first
    assert new_bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]
    rules = client.get_bucket_cors(Bucket=new_bucket)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == settings.MEDIA_CORS_ORIGINS
    again = run_setup()
    assert f"Bucket {new_bucket} exists" in again and "Created" not in again, again
