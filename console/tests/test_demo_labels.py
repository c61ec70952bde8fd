"""On the demo market every console page that shows a price or a bar date names the real day behind it."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import call_command

from marketdata import conf, demo_market
from marketdata.bundled import bundled_load
from trading_site.lib.clock import NEW_YORK
from workflow.demo import demo_data_setup
from workflow.models import RebalanceRun

PAGES = ["/", "/partials/figures/", "/runs/", "/strategies/", "/risk/"]


@pytest.fixture
def demo_day(db, monkeypatch, settings):
    """A completed demo rebalance (so the pages have positions, a run and a market-close price)."""
    settings.BROKER = "simulated"
    settings.SIM_MARKET_HOURS = "always"
    monkeypatch.setattr(conf, "DEMO_MARKET", True)
    bundled_load(dataset="demo")
    demo_data_setup()
    moment = dt.datetime(2026, 12, 2, 15, 50, tzinfo=NEW_YORK)
    with time_machine.travel(moment, tick=False):
        call_command("rebalance", stdout=io.StringIO())
    run = RebalanceRun.objects.get()
    assert run.status == "completed", (run.failed_step, run.error)
    return moment, demo_market.original_for(run.day)


@pytest.mark.slow
def test_every_console_page_with_prices_names_the_real_day(client, viewer, demo_day):
    """One demo day for all the pages (it costs seconds: the demo market re-dated, a rebalance)."""
    moment, original = demo_day
    client.force_login(viewer)
    for path in PAGES:
        with time_machine.travel(moment, tick=False):
            html = client.get(path).content.decode()
        assert f"real prices of {original.isoformat()}" in html, path


def test_without_the_demo_market_no_page_claims_real_prices(client, viewer, db, settings):
    settings.BROKER = "simulated"
    client.force_login(viewer)
    for path in PAGES:
        assert "real prices of" not in client.get(path).content.decode()
