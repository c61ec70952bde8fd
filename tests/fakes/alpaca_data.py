"""A local fake of Alpaca's market-data REST API (``GET /v2/stocks/bars``) for tests.

It is a real HTTP server on 127.0.0.1 with a random port, so alpaca-py's own
``StockHistoricalDataClient(url_override=server.url)`` talks to it over the wire (request building,
pagination via ``next_page_token``, response parsing all run for real). Only what the platform uses
is implemented:

- query parameters ``symbols`` (comma-separated), ``timeframe`` (``1Day`` only), ``start``, ``end``,
  ``adjustment`` (``raw`` | ``split``; others → 422), ``feed``, ``limit``, ``page_token``;
- daily bars keyed by symbol: ``{"bars": {"AAPL": [{"t","o","h","l","c","v","n","vw"}]}, "next_page_token"}``
  with ``t`` = midnight New York time expressed in UTC (as Alpaca sends daily bars);
- ``split`` adjustment divides prices before a split's ex-date by the split factor (volume × factor);
- missing API key headers → 401 like the real service.

Every request is recorded in ``server.requests`` (path and query) so tests can assert e.g. the feed.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


@dataclass
class FakeBar:
    session: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: int


@dataclass
class FakeMarketData:
    bars: dict[str, list[FakeBar]] = field(default_factory=dict)
    splits: dict[str, list[tuple[dt.date, float]]] = field(default_factory=dict)  # symbol -> (ex_date, factor)
    page_size: int | None = None  # force pagination below the client's limit


def _timestamp(session: dt.date) -> str:
    midnight = dt.datetime.combine(session, dt.time(0, 0), tzinfo=NEW_YORK)
    return midnight.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(raw: str | None) -> dt.datetime | None:
    if not raw:
        return None
    value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format, *args):
        return

    def _send(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.server.requests.append({"path": url.path, "query": query})
        if not self.headers.get("APCA-API-KEY-ID") or not self.headers.get("APCA-API-SECRET-KEY"):
            return self._send(401, {"message": "unauthorized."})
        if url.path != "/v2/stocks/bars":
            return self._send(404, {"message": "not found"})
        if query.get("timeframe") != "1Day":
            return self._send(422, {"message": "only 1Day is faked"})
        adjustment = query.get("adjustment", "raw")
        if adjustment not in ("raw", "split"):
            return self._send(422, {"message": f"adjustment {adjustment} is not faked"})
        start, end = _parse_time(query.get("start")), _parse_time(query.get("end"))
        data: FakeMarketData = self.server.data
        rows: list[tuple[str, dict]] = []
        for symbol in sorted(s for s in query.get("symbols", "").split(",") if s):
            for bar in data.bars.get(symbol, []):
                ts = dt.datetime.combine(bar.session, dt.time(0, 0), tzinfo=NEW_YORK)
                if (start and ts < start) or (end and ts > end):
                    continue
                factor = 1.0
                if adjustment == "split":
                    for ex_date, split in data.splits.get(symbol, []):
                        if bar.session < ex_date:
                            factor *= split
                rows.append(
                    (
                        symbol,
                        {
                            "t": _timestamp(bar.session),
                            "o": round(bar.open / factor, 4),
                            "h": round(bar.high / factor, 4),
                            "l": round(bar.low / factor, 4),
                            "c": round(bar.close / factor, 4),
                            "v": int(bar.volume * factor),
                            "n": 100,
                            "vw": round(bar.close / factor, 4),
                        },
                    )
                )
        offset = int(query.get("page_token") or 0)
        limit = int(query.get("limit") or 10_000)
        if data.page_size:
            limit = min(limit, data.page_size)
        page = rows[offset : offset + limit]
        grouped: dict[str, list[dict]] = {}
        for symbol, bar in page:
            grouped.setdefault(symbol, []).append(bar)
        next_token = str(offset + limit) if offset + limit < len(rows) else None
        return self._send(200, {"bars": grouped, "next_page_token": next_token})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, data: FakeMarketData) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.data = data
        self.requests: list[dict] = []


class FakeAlpacaData:
    """Context manager: ``with FakeAlpacaData(data) as fake: client(url_override=fake.url)``."""

    def __init__(self, data: FakeMarketData | None = None) -> None:
        self.data = data or FakeMarketData()
        self._server = _Server(self.data)
        # shutdown() waits for the loop to look at its flag: every poll_interval (0.5 s by default).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[dict]:
        return self._server.requests

    def __enter__(self) -> FakeAlpacaData:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
