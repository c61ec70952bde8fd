"""Strategies page: strategy and per-symbol toggles with a reason (audited), latest signals, and the
allocation preview that drops a strategy once it is toggled off."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import Decimal

import pytest

from marketdata.data_import import BarRow, ParsedBars, bars_import
from marketdata.quality import nyse_calendar
from strategies.models import Signal, Strategy, StrategySymbol
from strategies.services import signals_record, strategy_create
from trading_site.models import ActionLog

pytestmark = pytest.mark.django_db

SYMBOLS = ["AAPL", "IBM", "MSFT", "GOOG"]
AS_OF = "2010-06-30"


@pytest.fixture
def strategies(db):
    """Deterministic 2010 closes for four symbols (as the strategies app's tests) and two strategies."""
    sessions = nyse_calendar().sessions_in_range("2010-01-04", "2010-12-31")
    parsed = ParsedBars()
    for k, symbol in enumerate(SYMBOLS):
        for i, session in enumerate(sessions):
            price = Decimal(str(round(100 + 10 * k + 8 * math.sin(i / (7 + 3 * k)) + 0.05 * i * (k - 1.5), 2)))
            parsed.bars.append(BarRow(symbol, session.date(), price, price, price, price, None))
    bars_import(parsed=parsed, source="test")
    return {
        "sma": strategy_create(actor=None, name="sma", kind="sma_crossover", parameters={"fast": 10, "slow": 40},
                               symbols=SYMBOLS),
        "mr": strategy_create(actor=None, name="mr", kind="mean_reversion", parameters={"window": 20, "entry_z": 0.5},
                              symbols=SYMBOLS),
    }


def _by_strategy(html: str) -> set[str]:
    table = html.split('id="alloc-by-strategy"')[1].split("</table>")[0] if 'id="alloc-by-strategy"' in html else ""
    return set(re.findall(r'data-strategy="([^"]+)"', table))


def test_toggling_a_strategy_off_removes_it_from_the_next_allocation_preview(client, operator, strategies):
    client.force_login(operator)
    url = f"/strategies/?method=equal_weight&as_of={AS_OF}"
    before = client.get(url).content.decode()
    assert _by_strategy(before) == {"sma", "mr"}
    # the allocation is also drawn: bar charts by strategy and by symbol from the same weights
    spec = json.loads(before.split('<script id="chart-alloc-strategy" type="application/json">')[1].split("</script>")[0])
    assert spec["kind"] == "bar" and sorted(spec["labels"]) == ["mr", "sma"]
    assert sum(spec["series"][0]["values"]) == pytest.approx(80, abs=0.01)  # the gross, in percent
    assert 'data-chart="chart-alloc-symbol"' in before
    # without a reason nothing changes
    sid = strategies["mr"].pk
    logged = ActionLog.objects.count()
    client.post(f"/strategies/{sid}/toggle/", {"enabled": "false", "reason": ""})
    assert Strategy.objects.get(pk=sid).enabled and ActionLog.objects.count() == logged
    # with a reason it is disabled and audited
    response = client.post(f"/strategies/{sid}/toggle/", {"enabled": "false", "reason": "too correlated",
                                                         "next_query": f"method=equal_weight&as_of={AS_OF}"})
    assert response["Location"] == url
    assert not Strategy.objects.get(pk=sid).enabled
    log = ActionLog.objects.get(action="strategy.toggle")
    assert (log.actor, log.reason, log.data) == (operator, "too correlated", {"enabled": {"from": True, "to": False}})
    after = client.get(url).content.decode()
    assert _by_strategy(after) == {"sma"}
    assert "Excluded: mr (disabled)" in after


def test_symbol_toggle_is_audited_and_shown(client, operator, strategies):
    client.force_login(operator)
    sid = strategies["sma"].pk
    logged = ActionLog.objects.count()
    client.post(f"/strategies/{sid}/symbols/toggle/", {"symbol": "msft", "enabled": "false", "reason": "halted"})
    assert not StrategySymbol.objects.get(strategy_id=sid, asset__symbol="MSFT").enabled
    log = ActionLog.objects.get(action="strategy.symbol_toggle")
    assert (log.reason, log.data["symbol"], log.data["enabled"]) == ("halted", "MSFT", False)
    html = client.get("/strategies/").content.decode()
    assert 'title="disabled">MSFT (off)</span>' in html
    # an unknown symbol is refused with the service's message, nothing changes
    client.post(f"/strategies/{sid}/symbols/toggle/", {"symbol": "TSLA", "enabled": "false", "reason": "x"})
    assert ActionLog.objects.count() == logged + 1
    assert "TSLA is not in strategy sma" in client.get("/strategies/").content.decode()


def test_latest_signals_are_listed(client, viewer, strategies):
    signals_record(as_of=dt.date(2010, 6, 30), run_id="run-1")
    client.force_login(viewer)
    html = client.get("/strategies/").content.decode()
    for strategy in strategies.values():  # each strategy lists its own rows of the run, by symbol
        assert f'<details id="signals-{strategy.pk}"><summary>{strategy.name} (2010-06-30)</summary>' in html
        section = html.split(f'id="signals-{strategy.pk}"')[1].split("</details>")[0]
        rows = re.findall(r'<tr><td>([A-Z]+)</td><td class="num">([^<]+)</td>', section)
        expected = Signal.objects.filter(strategy=strategy, run_id="run-1").order_by("asset__symbol")
        assert rows == [(s.asset.symbol, f"{s.score:.4f}") for s in expected] and len(rows) == len(SYMBOLS)
        assert len({score for _, score in rows}) > 1  # the scores tell the rows apart
    assert "Disable sma" not in html  # viewers see no toggles
