"""Two deployments on one RabbitMQ and one host, each run from the Procfile as `make run` does:
both workers start and answer ping, neither deployment's control commands (ping, Flower's
worker list) reach the other's workers, and Flower listens on loopback only, behind basic auth."""

import base64
import json
import os
import socket
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import BIN, WorkerProcess, free_port, stop_process, wait_until, worker_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent.parent


def procfile() -> dict[str, str]:
    return dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)


def deployment_env(prefix: str, **extra: str) -> dict[str, str]:
    env = worker_env(MEDIA_QUEUE_PREFIX=prefix, MEDIA_GPU_ENCODE="off", MEDIA_HW_DECODE="off", **extra)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # the Procfile names `celery`, as run.sh arranges
    return env


def procfile_worker(prefix: str, log: Path) -> WorkerProcess:
    """The Procfile's worker line, run by a shell as honcho runs it, for the deployment `prefix`."""
    worker = WorkerProcess(deployment_env(prefix, WORKER_CONCURRENCY="1"), log, "unused")
    worker.cmd = ["/bin/sh", "-c", "exec " + procfile()["worker"]]
    return worker


def ping(prefix: str) -> dict[str, dict]:
    """`celery inspect ping` as an operator of deployment `prefix` runs it: who answers?"""
    proc = subprocess.run(
        [str(BIN / "celery"), "-A", "mediaplatform", "inspect", "ping", "--json", "--timeout", "5"],
        env=deployment_env(prefix),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        return {}
    replies = json.loads(proc.stdout.strip().splitlines()[-1])
    if isinstance(replies, dict):
        return replies
    return {name: answer for reply in replies for name, answer in reply.items()}


def listening_addresses(pid: int) -> set[str]:
    """Local addresses the process listens on (TCP), from /proc: its socket inodes in LISTEN state."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    addresses = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                raw = bytes.fromhex(fields[1].split(":")[0])
                # /proc prints each 32-bit word in host (little-endian) order.
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                addresses.add(socket.inet_ntop(family, raw))
    return addresses


def get(url: str, auth: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)  # noqa: S310 (http on loopback)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (http on loopback)
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def delete_deployment_queues(prefix: str) -> None:
    from mediaplatform.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for suffix in ("short", "transcode.cpu", "transcode.gpu", "dead"):
            channel.queue_delete(f"{prefix}.{suffix}")
            channel.exchange_delete(f"{prefix}.{suffix}")
        channel.exchange_delete(f"{prefix}.events")  # durable; the control exchange deletes itself


def test_two_deployments_on_one_broker_and_host_keep_apart(tmp_path, django_db_blocker):
    prefixes = [f"{settings.MEDIA_QUEUE_PREFIX}-{name}-{uuid.uuid4().hex[:4]}" for name in ("a", "b")]
    with django_db_blocker.unblock():
        workers = [procfile_worker(prefix, tmp_path / f"{prefix}.log") for prefix in prefixes]
    flower = None
    try:
        for worker in workers:
            worker.start()  # the second died with RESOURCE_LOCKED on the shared pidbox queue
        answers: dict[str, dict] = {}

        def answered(prefix: str) -> bool:
            answers[prefix] = ping(prefix)
            return bool(answers[prefix])

        for prefix in prefixes:  # generous: a loaded machine may miss the 5 s reply window once
            wait_until(lambda p=prefix: answered(p), 90, f"a worker of {prefix} to answer ping")
        for prefix in prefixes:
            assert len(answers[prefix]) == 1, answers  # its own worker, and only it
            (name,) = answers[prefix]
            assert prefix in name and name.endswith(f"@{socket.gethostname()}"), answers
            assert answers[prefix][name] == {"ok": "pong"}

        port, auth = free_port(), f"flower:{uuid.uuid4().hex}"
        with django_db_blocker.unblock():
            env = deployment_env(prefixes[0], FLOWER_PORT=str(port), FLOWER_BASIC_AUTH=auth)
        flower = subprocess.Popen(
            ["/bin/sh", "-c", "exec " + procfile()["flower"]],
            env=env,
            stdout=(tmp_path / "flower.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: get(base + "/")[0] != 0 or flower.poll() is not None, 60, "Flower to listen")
        assert flower.poll() is None, (tmp_path / "flower.log").read_text()[-3000:]
        assert get(base + "/")[0] == 401 and get(base + "/api/workers")[0] == 401
        # Flower 2.2 serves /metrics without asking for its basic auth: it is bound to loopback only.
        assert listening_addresses(flower.pid) == {"127.0.0.1"}

        def flower_workers() -> set[str]:
            status, body = get(base + "/api/workers?refresh=1", auth)
            return set(json.loads(body)) if status == 200 else set()

        wait_until(lambda: any(prefixes[0] in n for n in flower_workers()), 60, "Flower to list its worker")
        listed = flower_workers()
        assert listed and all(prefixes[0] in name for name in listed), listed
    finally:
        if flower is not None:
            stop_process(flower)
        for worker in workers:
            worker.stop()
        for prefix in prefixes:
            delete_deployment_queues(prefix)
