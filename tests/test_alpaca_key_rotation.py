"""Rotated Alpaca keys reach running code within ``SECRETS_CACHE_TTL``, without a restart (issue 16).

A real OpenBao dev server holds the keys; the fake Alpaca (REST + ``trade_updates`` websocket) accepts
only the current pair and, like Alpaca when a key is regenerated, closes the old pair's websocket.

1. In this process: the broker adapter built from the secrets layer and the trade-stream runner pick
   up a pair written to OpenBao by someone else (a different client), once the cache entry expires.
2. With real processes: a gunicorn web process and the ``run_trade_stream`` process run on the old
   pair; ``manage.py secrets rotate`` (its own process) writes the new one; a new API order and the
   stream's websocket use the new pair within the TTL, and a fill reaches the ledger over the stream.
   The web process checks market hours as production does (``BROKER=alpaca``): this part needs the
   NYSE regular session and is skipped outside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal as D

import pytest
from django.core.cache import cache

from marketdata import market_clock
from orders.brokers import use_broker
from orders.brokers.alpaca import AlpacaBroker
from orders.conf import conf as orders_conf
from orders.gateway import order_place
from orders.models import Order
from orders.stream import TradeStreamRunner
from orders.tests.conftest import make_asset
from risk.services import risk_defaults_ensure
from tests.fakes.alpaca_trading import FakeAlpaca
from tests.processes import ROOT, child_env, log_tail, running, wait_for
from tests.servers.openbao import openbao_start
from tests.test_outage_process import call, web
from trading_site.lib import clock
from trading_site.secret_store.conf import secrets_config_from_env
from trading_site.secret_store.manager import manager_build, manager_install
from trading_site.tokens import token_issue

OLD = ("PKOLD0001", "SKOLD0001")
NEW = ("PKNEW0002", "SKNEW0002")
TTL = 2.0


@pytest.fixture(scope="module")
def bao():
    server = openbao_start()
    yield server
    server.stop()


@pytest.fixture
def fake():
    with FakeAlpaca() as server:
        server.keys = {OLD}
        server.quotes["AAPL"] = (D("99.98"), D("100.02"))
        yield server


def vault_env(bao, prefix: str) -> dict[str, str]:
    return {
        "SECRETS_BACKEND": "vault",
        "VAULT_ADDR": bao.addr,
        "VAULT_TOKEN": bao.root_token,
        "VAULT_PATH_PREFIX": f"trading/{prefix}",
        "SECRETS_CACHE_TTL": str(TTL),
    }


def bao_write(bao, prefix: str, pair: tuple[str, str]) -> None:
    """Another client (an operator's ``bao kv put``) writes the pair: this process's cache is not told."""
    client = bao.client()
    for name, value in zip(("ALPACA_API_KEY", "ALPACA_SECRET_KEY"), pair, strict=True):
        client.secrets.kv.v2.create_or_update_secret(
            path=f"trading/{prefix}/{name}", secret={"value": value}, mount_point="secret"
        )


def keys_used(fake: FakeAlpaca, method: str, path: str) -> list[str | None]:
    return [r.key_id for r in fake.request_log if r.method == method and r.path == path]


@pytest.mark.slow  # over 1.5 s here: kept out of make test-fast
@pytest.mark.django_db
def test_adapter_and_stream_runner_follow_a_pair_rotated_in_openbao(bao, fake, monkeypatch, settings):
    settings.SIM_MARKET_HOURS = "always"
    cache.clear()
    risk_defaults_ensure()
    make_asset("AAPL", price="100", session=clock.today_ny())
    prefix = f"inproc{int(time.time() * 1000)}"
    for key, value in vault_env(bao, prefix).items():
        monkeypatch.setenv(key, value)
    settings.SECRETS_BACKEND = "vault"
    bao_write(bao, prefix, OLD)
    manager_install(manager_build(secrets_config_from_env(backend="vault")))
    for name, value in (
        ("alpaca_url_override", fake.base_url),
        ("alpaca_stream_url_override", fake.stream_url),
        ("alpaca_data_url_override", fake.base_url),
        ("alpaca_retry_attempts", 0),
    ):
        monkeypatch.setattr(orders_conf, name, value)
    try:
        broker = AlpacaBroker.from_settings()
        runner = TradeStreamRunner(broker, poll_seconds=300)
        runner.start()
        try:
            wait_for(lambda: (OLD[0], True) in fake.stream_auths, timeout=15, what="stream login with the old pair")
            with use_broker(broker):
                first = order_place(symbol="AAPL", side="buy", qty="1", source="api", client_order_id="rot-1").order
            assert first.status == "accepted" and keys_used(fake, "POST", "/v2/orders") == [OLD[0]]

            # when the pair is rotated in OpenBao and Alpaca revokes the old one
            fake.keys.add(NEW)
            bao_write(bao, prefix, NEW)
            fake.revoke(OLD[0])
            rotated = time.monotonic()
            wait_for(runner.credentials_follow, timeout=TTL + 2, interval=0.1, what="the runner seeing the new pair")
            assert time.monotonic() - rotated <= TTL + 0.5
            wait_for(lambda: (NEW[0], True) in fake.stream_auths, timeout=15, what="stream login with the new pair")
            with use_broker(broker):
                second = order_place(symbol="AAPL", side="buy", qty="1", source="api", client_order_id="rot-2").order
            # then the next request and the websocket use the new pair; no request was refused
            assert second.status == "accepted"
            assert keys_used(fake, "POST", "/v2/orders") == [OLD[0], NEW[0]]
            assert not [r for r in fake.request_log if r.outcome == "401"]
            assert runner.reconnects == 1
            fake.fill("rot-2", "1", "100.01")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and Order.objects.get(pk=second.pk).status != "filled":
                runner.process(timeout=0.2)
            assert Order.objects.get(pk=second.pk).status == "filled"  # over the new websocket
        finally:
            runner.stop()
    finally:
        manager_install(None)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_secrets_rotate_reaches_the_running_web_and_trade_stream_processes(bao, fake, tmp_path, operator, settings):
    if not market_clock.is_open(clock.now()):
        pytest.skip("needs the NYSE regular session: the Alpaca web process checks market hours as production does")
    settings.SIM_MARKET_HOURS = "always"
    cache.clear()
    risk_defaults_ensure()
    make_asset("AAPL", price="100", session=clock.today_ny())
    token = token_issue(user=operator, name="rotation").key
    prefix = f"proc{int(time.time() * 1000)}"
    bao_write(bao, prefix, OLD)
    env = child_env(
        BROKER="alpaca",
        ALPACA_PAPER="true",
        ALPACA_URL_OVERRIDE=fake.base_url,
        ALPACA_STREAM_URL_OVERRIDE=fake.stream_url,
        ALPACA_DATA_URL_OVERRIDE=fake.base_url,
        ALPACA_RETRY_ATTEMPTS="0",
        SIM_MARKET_HOURS="always",
        TRADE_STREAM_POLL_SECONDS="300",
        **vault_env(bao, prefix),
    )
    env.pop("ALPACA_API_KEY", None)
    env.pop("ALPACA_SECRET_KEY", None)
    auth = {"Authorization": f"Token {token}"}
    order = {"symbol": "AAPL", "side": "buy", "qty": "1", "type": "market", "reason": "rotation test"}
    with (
        running({"trade_stream": [sys.executable, "manage.py", "run_trade_stream"]}, env, tmp_path),
        web(env, tmp_path / "web.log") as base,
    ):
        try:
            wait_for(lambda: (OLD[0], True) in fake.stream_auths, timeout=60, what="stream login with the old pair")
            status, _, body = call(
                f"{base}/api/v1/orders/", method="POST", body=order | {"client_order_id": "p-1"}, headers=auth
            )
            assert status == 201, body
            assert keys_used(fake, "POST", "/v2/orders") == [OLD[0]]

            # when an operator rotates the pair (verified against Alpaca first) and Alpaca revokes the old one
            fake.keys.add(NEW)
            rotate = subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "secrets",
                    "rotate",
                    "ALPACA_API_KEY",
                    "ALPACA_SECRET_KEY",
                    "--from-env",
                    "NEW_ALPACA_KEY",
                    "NEW_ALPACA_SECRET",
                    "--reason",
                    "rotation test",
                ],
                cwd=ROOT,
                env=env | {"NEW_ALPACA_KEY": NEW[0], "NEW_ALPACA_SECRET": NEW[1]},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert rotate.returncode == 0, rotate.stderr[-2000:]
            fake.revoke(OLD[0])
            rotated = time.monotonic()

            # then within the TTL the stream logs in with the new pair ...
            wait_for(
                lambda: (NEW[0], True) in fake.stream_auths, timeout=TTL + 10, what="stream login with the new pair"
            )
            assert time.monotonic() - rotated <= TTL + 10  # TTL, the loop's 1 s pass, the websocket login
            # ... and a new order goes out with it
            time.sleep(max(0.0, TTL - (time.monotonic() - rotated)) + 0.2)
            status, _, body = call(
                f"{base}/api/v1/orders/", method="POST", body=order | {"client_order_id": "p-2"}, headers=auth
            )
            assert status == 201, body
            assert json.loads(body)["status"] == "accepted"
            assert keys_used(fake, "POST", "/v2/orders") == [OLD[0], NEW[0]]
            # the fill of the new order reaches the ledger over the reconnected stream (polling is off)
            fake.fill("p-2", "1", "100.01")
            wait_for(
                lambda: Order.objects.get(client_order_id="p-2").status == "filled",
                timeout=30,
                what="the fill booked by the trade stream",
            )
        except AssertionError as exc:
            pytest.fail(f"{exc}\n{log_tail(tmp_path, 'trade_stream')}")
    assert len(fake.orders) == 2
