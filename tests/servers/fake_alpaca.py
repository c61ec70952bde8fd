"""A tiny fake of Alpaca's trading API: ``GET /v2/account`` answers 200 for the accepted key pairs
and 401 (Alpaca's body) for any other. Used through alpaca-py's ``url_override``."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = {
    "id": "8f0c7c0c-1d3a-4a0e-9a57-2f6c1b8e4d11",
    "account_number": "PA3FAKE0001",
    "status": "ACTIVE",
    "currency": "USD",
    "cash": "100000",
    "equity": "100000",
    "buying_power": "200000",
    "pattern_day_trader": False,
    "trading_blocked": False,
    "account_blocked": False,
}


@dataclass
class FakeAlpaca:
    server: ThreadingHTTPServer
    thread: threading.Thread
    accepted: set[tuple[str, str]] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path); never headers

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def accept(self, api_key: str, secret_key: str) -> None:
        self.accepted.add((api_key, secret_key))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def fake_alpaca_start() -> FakeAlpaca:
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            fake: FakeAlpaca = state["fake"]
            fake.requests.append(("GET", self.path))
            if self.path.split("?")[0] != "/v2/account":
                self._send(404, {"code": 40410000, "message": "not found"})
                return
            pair = (self.headers.get("APCA-API-KEY-ID", ""), self.headers.get("APCA-API-SECRET-KEY", ""))
            if pair in fake.accepted:
                self._send(200, ACCOUNT)
            else:
                self._send(401, {"code": 40110000, "message": "request is not authorized"})

        def log_message(self, format: str, *args) -> None:  # keep test output (and headers) quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() waits for the loop to look at its flag: every poll_interval (0.5 s by default).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-alpaca", daemon=True)
    fake = FakeAlpaca(server=server, thread=thread)
    state["fake"] = fake
    thread.start()
    return fake
