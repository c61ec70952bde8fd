"""Structured logging: one JSON object per line with the request id; X-Request-ID echoed."""

from __future__ import annotations

import json
import logging

from django.test import Client

from trading_site.logging import JsonFormatter, RequestIdFilter, request_id_var


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
