"""The shared sliding-window limiter (Redis here; the file fallback for the embedded run)."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from risk import limiter

T = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.redis  # the Redis path; the file fallback has its own tests on a tmp_path
def test_sixty_per_minute_then_refused_until_the_window_slides():
    results = [limiter.hit(name="t", now=T + dt.timedelta(milliseconds=i), window=60, limit=60) for i in range(61)]
    assert all(r.allowed for r in results[:60])
    assert not results[60].allowed and results[60].count == 60
    assert limiter.count(name="t", now=T + dt.timedelta(seconds=1), window=60) == 60
    # 60 s after the first event it leaves the window: one more is allowed
    later = limiter.hit(name="t", now=T + dt.timedelta(seconds=60, milliseconds=1), window=60, limit=60)
    assert later.allowed


def test_file_fallback_without_redis(settings, tmp_path):
    settings.REDIS_URL, settings.VAR_DIR = "", tmp_path
    results = [limiter.hit(name="f", now=T, window=60, limit=3) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert limiter.count(name="f", now=T, window=60) == 3
    limiter.clear(name="f")
    assert limiter.count(name="f", now=T, window=60) == 0


_CHILD = """
import datetime as dt, django, sys
django.setup()
from risk import limiter
t = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)
print(sum(limiter.hit(name="procs", now=t + dt.timedelta(milliseconds=i), window=60, limit=60).allowed for i in range(40)))
"""


@pytest.mark.slow
def test_limit_holds_across_two_os_processes():
    # given two separate processes each trying 40 events in the same minute
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "trading_site.settings_test"}
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    allowed = [int(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]
    # then together exactly 60 were allowed
    assert sum(allowed) == 60
    assert not limiter.hit(name="procs", now=T + dt.timedelta(seconds=1), window=60, limit=60).allowed


@pytest.mark.redis  # the Redis path; the file fallback has its own tests on a tmp_path
def test_hit_all_counts_both_windows_or_neither():
    # broker window already holds 2 of 2: the order is refused and the order window stays empty
    limiter.hit(name="b", now=T, window=60, limit=-1)
    limiter.hit(name="b", now=T, window=60, limit=-1)
    assert limiter.hit_all(limits={"o": 5, "b": 2}, now=T, window=60) == "b"
    assert limiter.count(name="o", now=T, window=60) == 0
    assert limiter.hit_all(limits={"o": 5, "b": 3}, now=T, window=60) is None
    assert (limiter.count(name="o", now=T, window=60), limiter.count(name="b", now=T, window=60)) == (1, 3)


def test_hit_all_file_fallback(settings, tmp_path):
    settings.REDIS_URL, settings.VAR_DIR = "", tmp_path
    assert limiter.hit_all(limits={"o": 1, "b": 5}, now=T, window=60) is None
    assert limiter.hit_all(limits={"o": 1, "b": 5}, now=T, window=60) == "o"
    assert limiter.count(name="b", now=T, window=60) == 1
