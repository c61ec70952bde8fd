"""Structured logging: one JSON object per line with the request id; X-Request-ID echoed."""

from __future__ import annotations

import io
import json
import logging

from django.test import Client

from trading_site.logging import FrequentTaskFilter, JsonFormatter, RequestIdFilter, RequestLogFilter, request_id_var


def test_json_formatter_one_object_per_line():
    record = logging.makeLogRecord({"name": "orders", "levelname": "INFO", "levelno": 20, "msg": "filled %s", "args": ("AAPL",)})
    record.order_id = 42
    token = request_id_var.set("req-123")
    try:
        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    assert "\n" not in line
    payload = json.loads(line)
    assert payload["message"] == "filled AAPL"
    assert payload["request_id"] == "req-123"
    assert payload["order_id"] == 42
    assert payload["level"] == "INFO" and payload["logger"] == "orders"


def test_request_id_is_echoed_or_generated(db):
    client = Client()
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) == 32


def _request_log() -> tuple[logging.Handler, io.StringIO]:
    """The console handler's filters, on a handler of our own on ``django.request``."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RequestLogFilter())
    logging.getLogger("django.request").addHandler(handler)
    return handler, stream


def test_a_403_and_a_404_are_one_line_each_without_a_traceback(make_user):
    client = Client()
    client.force_login(make_user("no-role-user", None))
    handler, stream = _request_log()
    try:
        assert client.get("/").status_code == 403
        assert client.get("/no-such-page/").status_code == 404
    finally:
        logging.getLogger("django.request").removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("WARNING Forbidden") and lines[1] == "WARNING Not Found: /no-such-page/"


def test_healthz_503_is_not_logged_as_an_error_but_other_5xx_are(db):
    handler, stream = _request_log()
    try:
        assert Client().get("/healthz").status_code == 503  # no worker or beat heartbeat in this test
        record = logging.makeLogRecord({"name": "django.request", "levelno": 40, "levelname": "ERROR",
                                        "msg": "Internal Server Error: /x", "status_code": 500})
        handler.handle(record)
    finally:
        logging.getLogger("django.request").removeHandler(handler)
    assert stream.getvalue().splitlines() == ["ERROR Internal Server Error: /x"]


def test_every_second_tasks_stay_out_of_info_but_their_errors_do_not():
    def record(level: int, msg: str, args: tuple) -> logging.LogRecord:
        return logging.makeLogRecord({"name": "celery.beat", "levelno": level, "levelname": logging.getLevelName(level),
                                      "msg": msg, "args": args})

    keep = FrequentTaskFilter()
    assert not keep.filter(record(logging.INFO, "Scheduler: Sending due task %s (%s)",
                                  ("orders-twap-dispatch", "orders.twap_dispatch")))
    assert not keep.filter(record(logging.INFO, "Task %s[%s] received", ("platform.heartbeat", "abc")))
    assert keep.filter(record(logging.ERROR, "Task %s[%s] raised", ("orders.twap_dispatch", "abc")))
    assert keep.filter(record(logging.INFO, "Task %s[%s] received", ("orders.reconcile", "abc")))
