"""A webhook receiver on localhost that checks signatures and answers as a test scripts it."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """`answers`: status codes to give, in order, per event type (then 200); `delay_s` stalls replies."""

    def __init__(self, secret: str = "", answers: dict[str, list[int]] | None = None, delay_s: float = 0.0):
        self.secret = secret
        self.answers = {k: list(v) for k, v in (answers or {}).items()}
        self.delay_s = delay_s
        self.received: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                payload = json.loads(body)
                signature = self.headers.get("Webhook-Signature", "")
                with receiver.lock:
                    queue = receiver.answers.get(payload["type"], [])
                    status = queue.pop(0) if queue else 200
                    receiver.received.append(
                        {
                            "at": time.monotonic(),
                            "payload": payload,
                            "headers": dict(self.headers),
                            "valid": receiver.verify(signature, body),
                            "answered": status,
                        }
                    )
                time.sleep(receiver.delay_s)
                try:
                    self.send_response(status)
                    if status in (301, 302, 307):
                        self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                    self.end_headers()
                    self.wfile.write(b"ok" if status == 200 else b"try again later")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (the timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def verify(self, header: str, body: bytes, tolerance_s: int = 300) -> bool:
        """What a receiver does: recompute HMAC-SHA256 over "t.body", compare in constant time, check t is fresh."""
        fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        timestamp = fields.get("t", "0")
        expected = hmac.new(self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, fields.get("v1", "")) and abs(time.time() - int(timestamp)) < tolerance_s

    def of_type(self, event_type: str) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["payload"]["type"] == event_type]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
