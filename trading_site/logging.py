"""Structured logging: a request-id filter and a one-object-per-line JSON formatter."""

from __future__ import annotations

import datetime as dt
import json
import logging
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class RequestLogFilter(logging.Filter):
    """``django.request``: a 4xx is one line (its exception is the answer, not a fault, so no
    traceback); ``/healthz`` answering 503 is not logged here (the access log has it, the body says
    which check fails, and a supervisor polling it would repeat the line twice a second)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("django.request"):
            return True
        status = getattr(record, "status_code", None) or 0
        if 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        request = getattr(record, "request", None)
        return not (status == 503 and getattr(request, "path", "") == "/healthz")


# Beat entries due this often or more are routine; their dispatch and task lines stay out of INFO.
FREQUENT_SECONDS = 10.0


def _frequent_tasks() -> tuple[str, ...]:
    # settings (LOGGING) import this module: beat's models load later
    from trading_site.beat import BEAT_SCHEDULE

    names = []
    for entry in BEAT_SCHEDULE.values():
        schedule = entry.get("schedule")
        if isinstance(schedule, int | float) and schedule <= FREQUENT_SECONDS:
            names.append(entry["task"])
    return tuple(names)


class FrequentTaskFilter(logging.Filter):
    """Drops Celery's INFO lines about the every-second tasks (TWAP dispatch, sim tick, heartbeat):
    "Sending due task", "received", "succeeded". Their warnings and errors, and DEBUG, still pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.name.startswith("celery"):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format is someone else's problem
            return True
        return not any(name in message for name in _frequent_tasks())
