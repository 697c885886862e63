"""Start gunicorn as the Procfile does, send it a big form upload, report the web worker's peak memory.

Run by bench/run.py. Uses the test settings (a private data directory, SQLite) and
filesystem storage; the upload is streamed from disk by `requests`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_hwm_mib(pid: int) -> float:
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def main() -> None:
    tmp = Path(sys.argv[1])
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mediaplatform.settings",
        "DJANGO_SECRET_KEY": "bench-only",
        "MEDIA_DATA_DIR": str(tmp / "webdata"),
        "MEDIA_UPLOAD_RATE_PER_MINUTE": "1000",
        # No broker is needed to accept an upload: the job is published after the
        # response's transaction commits and, if that fails, rescued later.
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:1//",
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    created = subprocess.run(
        [python, "manage.py", "ensure_admin"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    password = re.search(r"admin / (\S+)", created).group(1)
    port = free_port()
    gunicorn = Path(python).parent / "gunicorn"
    server = subprocess.Popen(
        [
            str(gunicorn),
            "mediaplatform.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{base}/accounts/login/", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.2)
        worker = int(subprocess.check_output(["pgrep", "-P", str(server.pid)]).split()[0])
        session = requests.Session()
        page = session.get(f"{base}/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        session.post(
            f"{base}/accounts/login/",
            data={"username": "admin", "password": password, "csrfmiddlewaretoken": token},
        )
        big = tmp / "big.bin"
        with big.open("wb") as fh:
            for _ in range(300):
                fh.write(os.urandom(MiB))
        before = vm_hwm_mib(worker)
        with big.open("rb") as fh:
            response = session.post(
                f"{base}/upload/",
                files={"file": ("big.mov", fh)},
                headers={"X-CSRFToken": session.cookies["csrftoken"], "Accept": "application/json"},
                timeout=300,
            )
        assert response.status_code == 202, response.text[:500]
        print(
            "BENCH "
            + json.dumps({"upload_mib": big.stat().st_size / MiB, "before_mib": before, "peak_mib": vm_hwm_mib(worker)})
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
