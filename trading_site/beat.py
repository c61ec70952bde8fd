"""Beat: the schedule defined in code, and a DatabaseScheduler that writes the beat heartbeat.

``BEAT_SCHEDULE`` is loaded into django-celery-beat's tables when beat starts (so entries are
visible, and can be paused, in the admin). ``ops.wiring`` adds every entry with :func:`register`.
"""

from __future__ import annotations

import logging

from django_celery_beat.schedulers import DatabaseScheduler

from trading_site.lib import queues

logger = logging.getLogger(__name__)

HEARTBEAT_ENTRY = {
    "task": "platform.heartbeat",
    # Every 5 s, so /healthz (HEARTBEAT_MAX_AGE, 15 s) sees a dead or stuck worker within 15 s.
    "schedule": 5.0,
    "options": {"queue": queues.DEFAULT, "expires": 15},
}
# Filled at start-up by ops.wiring (the one list of every entry).
BEAT_SCHEDULE: dict[str, dict] = {}


def register(name: str, entry: dict) -> None:
    """Add a beat entry (``ops.wiring`` lists them all)."""
    if name in BEAT_SCHEDULE and BEAT_SCHEDULE[name] != entry:
        raise ValueError(f"beat entry {name!r} registered twice with different definitions")
    BEAT_SCHEDULE[name] = entry


class HeartbeatDatabaseScheduler(DatabaseScheduler):
    """Writes the ``beat`` heartbeat at most every few seconds from the scheduler's own loop."""

    heartbeat_every = 5.0

    def setup_schedule(self):
        self.app.conf.beat_schedule = dict(BEAT_SCHEDULE)
        super().setup_schedule()
        self._last_beat = 0.0

    def tick(self, *args, **kwargs):
        import time

        now = time.monotonic()
        if now - getattr(self, "_last_beat", 0.0) >= self.heartbeat_every:
            self._last_beat = now
            try:
                # beat's scheduler module loads before Django's models: the heartbeat model is read late
                from trading_site.health import heartbeat_record

                heartbeat_record(name="beat")
            except Exception:  # a heartbeat must never stop the scheduler
                logger.exception("beat heartbeat failed")
        interval = super().tick(*args, **kwargs)
        return min(interval, self.heartbeat_every)
