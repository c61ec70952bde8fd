"""Sliding-window counters shared by every process: order rate, broker request rate, error bursts;
and pauses (the broker-read back-off after a 429).

With ``REDIS_URL`` the window is a Redis sorted set updated by one Lua script (atomic across web,
workers and machines). Without Redis (the embedded run: web, worker and beat on one machine) the
window is a small JSON file under ``VAR_DIR`` guarded by an exclusive ``fcntl`` lock.

Timestamps come from the caller (the order's ``now`` from the platform clock), so a replay with a
simulated clock counts simulated minutes, not wall-clock ones.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from risk import conf

KEY_PREFIX = conf.RATE_KEY_PREFIX

_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
if limit >= 0 and n >= limit then
  return {0, n}
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
return {1, n + 1}
"""


_LUA_ALL = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local member = ARGV[3]
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if n >= tonumber(ARGV[3 + i]) then
    return {i, n}
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
end
return {0, 0}
"""


@dataclass(frozen=True, slots=True)
class Hit:
    allowed: bool
    count: int  # events in the window after this call (not counting a refused one)


_client_lock = threading.Lock()
_client = None
_script = None
_script_all = None


def _redis():
    global _client, _script, _script_all
    if _client is None:
        with _client_lock:
            if _client is None:
                import redis

                client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
                _script = client.register_script(_LUA)
                _script_all = client.register_script(_LUA_ALL)
                _client = client
    return _client, _script


def _ts(now: dt.datetime) -> float:
    if now.tzinfo is None:
        raise ValueError("limiter needs a tz-aware datetime")
    return now.timestamp()


def _file(name: str) -> Path:
    folder = Path(settings.VAR_DIR) / "risk"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"rate-{name}.json"


def _file_hit(name: str, now: float, window: float, limit: int) -> Hit:
    path = _file(name)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            raw = handle.read()
            stamps = [t for t in (json.loads(raw) if raw else []) if t > now - window]
            if 0 <= limit <= len(stamps):
                allowed = False
            else:
                stamps.append(now)
                allowed = True
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(stamps))
            handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return Hit(allowed=allowed, count=len(stamps))


def hit(*, name: str, now: dt.datetime, window: float, limit: int) -> Hit:
    """Count one event unless ``limit`` events are already in the window (``limit=-1``: no limit)."""
    ts = _ts(now)
    if settings.REDIS_URL:
        _, script = _redis()
        allowed, count = script(keys=[KEY_PREFIX + name], args=[ts, window, limit, f"{ts}:{uuid.uuid4().hex}"])
        return Hit(allowed=bool(allowed), count=int(count))
    return _file_hit(name, ts, window, limit)


def hit_all(*, limits: dict[str, int], now: dt.datetime, window: float) -> str | None:
    """Count one event in every named window, atomically, unless one is full: returns that name.

    One round trip for the order path's two limits (orders and broker requests); a refused order
    uses no budget in either window.
    """
    ts = _ts(now)
    names = list(limits)
    if settings.REDIS_URL:
        _redis()
        failed, _ = _script_all(keys=[KEY_PREFIX + n for n in names],
                                args=[ts, window, f"{ts}:{uuid.uuid4().hex}", *[limits[n] for n in names]])
        return names[int(failed) - 1] if int(failed) else None
    for name in names:  # the embedded fallback: check first, then count
        if count(name=name, now=now, window=window) >= limits[name]:
            return name
    for name in names:
        _file_hit(name, ts, window, -1)
    return None


def count(*, name: str, now: dt.datetime, window: float) -> int:
    """Events in the window ending at ``now`` (for status pages)."""
    ts = _ts(now)
    if settings.REDIS_URL:
        client, _ = _redis()
        return int(client.zcount(KEY_PREFIX + name, f"({ts - window}", "+inf"))
    path = _file(name)
    if not path.exists():
        return 0
    with open(path) as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            raw = handle.read()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return sum(1 for t in (json.loads(raw) if raw else []) if t > ts - window)


def pause(*, name: str, now: dt.datetime, seconds: float) -> None:
    """Mark ``name`` paused until ``now + seconds`` (a later end wins; an earlier one never shortens it)."""
    until = _ts(now) + seconds
    if settings.REDIS_URL:
        client, _ = _redis()
        key = KEY_PREFIX + "pause:" + name
        current = client.get(key)
        if current is None or float(current) < until:
            client.set(key, repr(until), px=max(int(seconds * 1000), 1))
        return
    path = _file("pause:" + name)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            raw = handle.read()
            if not raw or float(raw) < until:
                handle.seek(0)
                handle.truncate()
                handle.write(repr(until))
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def paused(*, name: str, now: dt.datetime) -> bool:
    """Whether ``name`` is paused at ``now`` (see :func:`pause`)."""
    ts = _ts(now)
    if settings.REDIS_URL:
        client, _ = _redis()
        current = client.get(KEY_PREFIX + "pause:" + name)
        return current is not None and float(current) > ts
    path = _file("pause:" + name)
    if not path.exists():
        return False
    raw = path.read_text()
    return bool(raw) and float(raw) > ts


def pause_clear(*, name: str) -> None:
    """End a pause now (tests, and an admin who knows the broker is back)."""
    clear(name="pause:" + name)


def clear(*, name: str) -> None:
    """Forget a window (tests, and an admin resetting a counter)."""
    if settings.REDIS_URL:
        client, _ = _redis()
        client.delete(KEY_PREFIX + name)
        return
    path = _file(name)
    if path.exists():
        path.unlink()
