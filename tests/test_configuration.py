"""The settings the code reads, .env.example and docker-compose.yml must agree."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def settings_read_by_code() -> set[str]:
    source = (ROOT / "mediaplatform" / "settings.py").read_text()
    names = set(re.findall(r'env(?:_bool|_int|_list)?\(\s*"([A-Z0-9_]+)"', source))
    procfile = (ROOT / "Procfile").read_text()
    names |= set(re.findall(r"\$\{([A-Z0-9_]+)", procfile))
    return names


def test_every_setting_is_documented_in_env_example():
    documented = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    missing = settings_read_by_code() - documented
    assert not missing, f".env.example lacks {sorted(missing)}"
    assert not documented - settings_read_by_code(), "documented settings nothing reads"


def test_compose_file_wires_the_stack_with_settings_the_code_reads():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"rabbitmq", "minio", "postgres", "web", "worker-cpu", "flower"} <= set(services)
    for name in ("rabbitmq", "minio", "postgres", "web"):
        assert "healthcheck" in services[name], name
    known = settings_read_by_code()
    for name in ("web", "worker-cpu", "flower"):
        env = services[name]["environment"]
        assert set(env) <= known, f"{name} sets unknown settings {set(env) - known}"
        assert {"DATABASE_URL", "CELERY_BROKER_URL", "S3_ENDPOINT_URL", "S3_BUCKET"} <= set(env)
        assert services[name]["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
    bucket = services["web"]["environment"]["S3_BUCKET"]
    assert f"local/{bucket}" in services["minio-bucket"]["entrypoint"]
