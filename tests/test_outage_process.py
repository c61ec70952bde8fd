"""Redis or the database down: the API answers JSON 503 (the project's error shape), the console a
clear page, and nothing is stored.

Real gunicorn web processes: one against the test database and a PRIVATE ``redis-server`` that the
test starts and stops (never the shared one), one whose ``DATABASE_URL`` points at a port nobody
listens on. Fills are not involved (the refused requests change nothing), but the web process
runs the production delivery mode (``SIM_FILL_DELIVERY=stream``) like the platform does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from orders.models import Order
from orders.tests.conftest import make_asset
from risk.services import risk_defaults_ensure
from tests.processes import child_env
from tests.servers._process import free_port
from trading_site.lib import clock
from trading_site.tokens import token_issue

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BIN = Path(sys.executable).parent


@contextlib.contextmanager
def private_redis() -> Iterator[subprocess.Popen]:
    """A redis-server of this test's own on a free port; the caller may stop it earlier."""
    port = free_port()
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    proc.port = port
    deadline = time.monotonic() + 10
    import redis

    while True:
        try:
            redis.Redis(port=port, socket_timeout=0.5).ping()
            break
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("private redis-server did not start") from None
            time.sleep(0.05)
    try:
        yield proc
    finally:
        redis_stop(proc)


def redis_stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def web(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "trading_site.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--threads", "2", "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        import socket

        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def call(url: str, *, method: str = "GET", body: dict | None = None, headers: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


ORDER = {"symbol": "AAPL", "side": "buy", "qty": "2", "type": "market", "reason": "outage test"}


def _env(**extra: str) -> dict[str, str]:
    return child_env(BROKER="simulated", SIM_MARKET_HOURS="always", SIM_FILL_DELIVERY="stream", **extra)


def test_redis_down_api_answers_json_503_and_console_a_clear_page(tmp_path, operator, client):
    risk_defaults_ensure()
    make_asset("AAPL", price="100", session=clock.today_ny() - dt.timedelta(days=1))
    token = token_issue(user=operator, name="outage").key
    client.force_login(operator)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    auth = {"Authorization": f"Token {token}"}
    with private_redis() as redis_proc:
        env = _env(REDIS_URL=f"redis://127.0.0.1:{redis_proc.port}/0")
        with web(env, tmp_path / "web.log") as base:
            # Redis up: the order goes through (the web process really uses this Redis)
            status, _, body = call(f"{base}/api/v1/orders/", method="POST", body=ORDER | {"client_order_id": "up-1"},
                                   headers=auth)
            assert status == 201, body
            status, _, html = call(f"{base}/", headers={"Cookie": cookie})
            assert status == 200, html[-500:]
            # when the private Redis stops
            redis_stop(redis_proc)
            before = list(Order.objects.order_by("pk").values_list("client_order_id", "status"))
            status, headers, body = call(f"{base}/api/v1/orders/", method="POST",
                                         body=ORDER | {"client_order_id": "down-1"}, headers=auth)
            # then the API answers 503 in the error shape, and nothing was stored
            assert status == 503, body
            assert headers["Content-Type"] == "application/json"
            assert headers["Retry-After"] == "5"
            assert json.loads(body) == {
                "code": "service_unavailable",
                "detail": "The Redis is unavailable; the request was not completed. Try again in a few seconds "
                          "(an order retried with the same client_order_id is never doubled).",
            }
            assert list(Order.objects.order_by("pk").values_list("client_order_id", "status")) == before
            # and the console shows a clear page, not a server error
            status, headers, html = call(f"{base}/", headers={"Cookie": cookie})
            assert status == 503, html[-500:]
            assert headers["Content-Type"].startswith("text/html")
            assert "<h1>Temporarily unavailable</h1>" in html
            assert "The Redis cannot be reached, so this page cannot be shown and no action was taken." in html


def test_database_down_api_answers_json_503_and_console_a_clear_page(tmp_path):
    nobody = free_port()  # nothing listens here: every connection is refused
    env = _env(DATABASE_URL=f"postgres://postgres@127.0.0.1:{nobody}/trading")
    with web(env, tmp_path / "web.log") as base:
        status, headers, body = call(f"{base}/api/v1/orders/", headers={"Authorization": "Token " + "a" * 40})
        assert status == 503, body
        assert headers["Content-Type"] == "application/json" and headers["Retry-After"] == "5"
        assert json.loads(body)["code"] == "service_unavailable"
        assert json.loads(body)["detail"].startswith("The database is unavailable; the request was not completed.")
        status, _, body = call(f"{base}/api/v1/orders/", method="POST", body=ORDER, headers={"Authorization": "Token x"})
        assert (status, json.loads(body)["code"]) == (503, "service_unavailable")
        status, headers, html = call(f"{base}/", headers={"Cookie": "sessionid=" + "k" * 32})
        assert status == 503 and headers["Content-Type"].startswith("text/html")
        assert "The database cannot be reached, so this page cannot be shown and no action was taken." in html


def test_risk_state_reads_the_database_while_the_cache_is_down(settings, operator, admin_user, caplog):
    from risk import services
    from risk.state import risk_state

    risk_defaults_ensure()
    with private_redis() as redis_proc:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                       "LOCATION": f"redis://127.0.0.1:{redis_proc.port}/0"}}
        services.kill_switch_latch(actor=operator, reason="drill")
        assert risk_state().kill_switch_engaged is True  # cached in the private Redis
        redis_stop(redis_proc)
        # the reset commits although the generation bump after it cannot reach Redis (logged)...
        services.kill_switch_reset(actor=admin_user, reason="drill over")
        assert "the generation bump failed" in caplog.text
        # ...and the state is read from the database, the truth, while the cache is down
        assert risk_state().kill_switch_engaged is False
        services.kill_switch_latch(actor=operator, reason="again")
        assert risk_state().kill_switch_engaged is True
