"""The settings the code reads, .env.example and docker-compose.yml must agree."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def settings_read_by_code() -> set[str]:
    source = "".join((ROOT / "mediaplatform" / name).read_text() for name in ("settings.py", "encoding.py"))
    names = set(re.findall(r'env(?:_bool|_int|_list)?\(\s*"([A-Z0-9_]+)"', source))
    procfile = (ROOT / "Procfile").read_text()
    names |= set(re.findall(r"\$\{([A-Z0-9_]+)", procfile))
    return names


def test_every_setting_is_documented_in_env_example():
    documented = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    missing = settings_read_by_code() - documented
    assert not missing, f".env.example lacks {sorted(missing)}"
    assert not documented - settings_read_by_code(), "documented settings nothing reads"


# Read by the container runtime, not by our code.
RUNTIME_VARIABLES = {"NVIDIA_DRIVER_CAPABILITIES"}
APP_SERVICES = ("web", "worker-cpu", "worker-gpu", "beat", "flower")


def test_compose_file_wires_the_stack_with_settings_the_code_reads():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"rabbitmq", "minio", "minio-bucket", "postgres", *APP_SERVICES} <= set(services)
    for name in ("rabbitmq", "minio", "postgres", "web", "worker-cpu", "worker-gpu"):
        assert "healthcheck" in services[name], name
    assert "15672:15672" in services["rabbitmq"]["ports"] and "management" in services["rabbitmq"]["image"]
    assert services["web"]["ports"] == ["8000:8000"] and "migrate" in services["web"]["command"]
    known = settings_read_by_code() | RUNTIME_VARIABLES
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert set(env) <= known, f"{name} sets unknown settings {set(env) - known}"
        assert {"DATABASE_URL", "CELERY_BROKER_URL", "S3_ENDPOINT_URL", "S3_BUCKET"} <= set(env)
        assert services[name]["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    bucket = services["web"]["environment"]["S3_BUCKET"]
    assert f"local/{bucket}" in services["minio-bucket"]["entrypoint"]
    gpu = services["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert "video" in gpu["environment"]["NVIDIA_DRIVER_CAPABILITIES"]
    assert set(compose["volumes"]) >= {"rabbitmq", "minio", "postgres"}


def test_procfile_runs_web_worker_beat_and_flower():
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    assert set(procfile) == {"web", "worker", "beat", "flower"}
    assert procfile["worker"].startswith("celery -A mediaplatform worker")
    assert procfile["beat"].startswith("celery -A mediaplatform beat")
    # Named after the deployment: two `make run` on one host and broker must not share a node name.
    assert "--hostname ${MEDIA_QUEUE_PREFIX:-media}-worker@%h" in procfile["worker"]
    assert "--address=127.0.0.1 " in procfile["flower"]  # Flower's /metrics has no auth: loopback only


def test_docker_compose_config_accepts_the_file():
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("docker compose is not installed here; the parsing checks above cover the file")
    proc = subprocess.run(
        [docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "--profile", "gpu", "config", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_broker_consumer_timeout_outlasts_the_longest_stage(settings):
    from media_tasks.processing.workflow import stage_time_limits

    conf = (ROOT / "deploy" / "rabbitmq.conf").read_text()
    timeout_ms = int(re.search(r"^consumer_timeout = (\d+)$", conf, re.M).group(1))
    assert timeout_ms / 1000 > stage_time_limits(settings.MEDIA_MAX_DURATION_S)["time_limit"]


def test_the_example_env_file_as_it_is_gives_working_settings(tmp_path):
    """Every line of .env.example as written (blank values included): the defaults apply, so a
    copy of it as .env starts the platform on SQLite and the filesystem."""
    example = dict(re.findall(r"^([A-Z0-9_]+)=(\S*)", (ROOT / ".env.example").read_text(), re.M))
    environment = {**example, "PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "1", "MEDIA_DATA_DIR": str(tmp_path)}
    shown = subprocess.run(
        [sys.executable, "-c", "from mediaplatform import settings as s; print(s.DATABASES['default']['ENGINE'])"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.strip() == "django.db.backends.sqlite3"
