"""Strategy cards (issue 21): per strategy its share of the ledger's P&L and exposure, the Sharpe of its
own stored signals, its last signal with the date — hand-worked figures from real fills, bars and
signal rows — and the page that shows them (role-safe, a fixed number of queries)."""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal as D

import pytest

from console import attribution, selectors
from console.tests.conftest import T0, buy, price_set
from marketdata.models import Asset
from strategies.models import Signal
from strategies.services import strategy_create

pytestmark = pytest.mark.django_db

D1, D2, D3, D4 = (dt.date(2026, 3, d) for d in (2, 3, 4, 5))  # Mon–Thu before T0 (Tue 10 March)


def _signals(run_id: str, session: dt.date, weights: dict[str, dict[str, str]], strategies: dict) -> None:
    """Signal rows as a rebalance records them (one per strategy and symbol of its universe)."""
    assets = dict(Asset.objects.values_list("symbol", "id"))
    Signal.objects.bulk_create(
        [
            Signal(
                run_id=run_id,
                strategy=strategies[name],
                asset_id=assets[symbol],
                session=session,
                score=None,
                target_weight=D(w),
                created_at=T0 - dt.timedelta(days=(D4 - session).days + 1),
            )
            for name, row in weights.items()
            for symbol, w in row.items()
        ]
    )


@pytest.fixture
def book(market, frozen, operator):
    """Given AAPL 100 → 110 → 99 → 108.90 and MSFT 200, 200, 200 → 210 over D1–D4 (IBM 50 → 40), with
    7 AAPL bought at 99, 3 MSFT at 200 (1 sold at 210) and 5 IBM at 50 (a manual trade no strategy holds),
    and signals on D1 and D4: trend holds AAPL, blend half AAPL half MSFT, idle (disabled) none."""
    for day, aapl, msft in ((D1, "100", "200"), (D2, "110", "200"), (D3, "99", "200")):
        price_set("AAPL", aapl, day=day)
        price_set("MSFT", msft, day=day)
    price_set("IBM", "50", day=D3)
    buy("AAPL", "7", actor=operator)
    buy("MSFT", "3", actor=operator)
    buy("IBM", "5", actor=operator)
    price_set("AAPL", "108.9", day=D4)
    price_set("MSFT", "210", day=D4)
    price_set("IBM", "40", day=D4)
    buy("MSFT", "1", actor=operator, side="sell")
    strategies = {
        "trend": strategy_create(
            actor=None, name="trend", kind="sma_crossover", parameters={"fast": 2, "slow": 3}, symbols=["AAPL", "MSFT"]
        ),
        "blend": strategy_create(
            actor=None,
            name="blend",
            kind="mean_reversion",
            parameters={"window": 3, "entry_z": 0.5},
            symbols=["AAPL", "MSFT"],
        ),
        "idle": strategy_create(
            actor=None,
            name="idle",
            kind="momentum",
            parameters={"lookback": 3, "skip": 0, "top_n": 1},
            symbols=["IBM"],
            enabled=False,
        ),
    }
    weights = {"trend": {"AAPL": "1", "MSFT": "0"}, "blend": {"AAPL": "0.5", "MSFT": "0.5"}}
    _signals("rebalance-live-2026-03-02", D1, weights, strategies)
    _signals("rebalance-live-2026-03-05", D4, weights, strategies)
    return strategies


def test_shares_split_each_symbol_by_normalised_target_weights():
    # trend holds AAPL alone (normalised 1), blend AAPL and MSFT at 0.25 each (normalised 0.5 each):
    # AAPL = 1 + 0.5 → trend 2/3, blend 1/3; MSFT is blend's alone; a zero weight holds nothing
    shares = attribution.symbol_shares(
        {"trend": {"AAPL": D(1), "MSFT": D(0)}, "blend": {"AAPL": D("0.25"), "MSFT": D("0.25")}, "cash": {"AAPL": D(0)}}
    )
    assert shares == {"trend": {"AAPL": D(1) / D("1.5")}, "blend": {"AAPL": D("0.5") / D("1.5"), "MSFT": D(1)}}
    assert sum(s.get("AAPL", 0) for s in shares.values()) == pytest.approx(1)


def test_strategy_figures_are_shares_of_the_ledger_to_the_cent(book):
    cards = selectors.strategy_cards()
    by_name = {r["name"]: r for r in cards.rows}
    # P&L by symbol: AAPL 7 × (108.90 − 99) = 69.30 unrealized; MSFT 1 × 10 realized + 2 × 10 unrealized = 30.00;
    # IBM 5 × (40 − 50) = −50.00. Total 49.30, the dashboard's.
    assert cards.total_pnl == D("49.30") == selectors.figures().total_pnl
    # trend: 2/3 of AAPL = 46.20; blend: 1/3 of AAPL + all of MSFT = 23.10 + 30.00 = 53.10; idle nothing
    assert (by_name["trend"]["pnl"], by_name["blend"]["pnl"], by_name["idle"]["pnl"]) == (D("46.20"), D("53.10"), 0)
    assert cards.unattributed_pnl == D("-50.00")  # IBM, which no strategy's latest signals hold
    # exposure: AAPL 762.30 (trend 508.20, blend 254.10), MSFT 420.00 (blend), IBM 200.00 (unattributed)
    assert (by_name["trend"]["exposure"], by_name["blend"]["exposure"]) == (D("508.20"), D("674.10"))
    assert (cards.unattributed_exposure, cards.gross_exposure) == (D("200.00"), D("1382.30"))
    assert by_name["idle"]["exposure"] == 0 and by_name["idle"]["exposure_share"] is None
    assert round(by_name["blend"]["exposure_share"], 2) == D("48.77")  # 674.10 / 1,382.30


def test_sharpe_of_the_strategys_own_signals(book):
    by_name = {r["name"]: r for r in selectors.strategy_cards().rows}
    # trend holds AAPL from D1: +10 %, −10 %, +10 % → mean/std = (1/30)/(√(0.04/3)) = 1/√12, × √252 = √21
    assert (by_name["trend"]["sharpe"], by_name["trend"]["sharpe_days"]) == (round(math.sqrt(21), 4), 3)
    # blend half and half: +5 %, −5 %, +5 % + 2.5 % → mean 0.025, std √0.004375, × √252 = 6
    assert (by_name["blend"]["sharpe"], by_name["blend"]["sharpe_days"]) == (6.0, 3)
    assert (by_name["idle"]["sharpe"], by_name["idle"]["sharpe_days"]) == (None, 0)  # no signals yet


def test_last_signal_with_its_date_and_targets(book):
    by_name = {r["name"]: r for r in selectors.strategy_cards().rows}
    assert by_name["trend"]["last_signal_session"] == D4
    assert by_name["trend"]["last_signal_targets"] == [("AAPL", D(1))]
    assert by_name["blend"]["last_signal_targets"] == [("AAPL", D("0.5")), ("MSFT", D("0.5"))]
    assert by_name["idle"]["last_signal_session"] is None


def test_a_later_run_of_the_same_session_replaces_the_earlier_one(book):
    # a manual signals run on D4 after the rebalance's: trend now holds MSFT; the latest run decides
    _signals("manual-2026-03-05", D4, {"trend": {"AAPL": "0", "MSFT": "1"}}, book)
    Signal.objects.filter(run_id="manual-2026-03-05").update(created_at=T0)
    cards = selectors.strategy_cards()
    trend = next(r for r in cards.rows if r["name"] == "trend")
    assert trend["last_signal_targets"] == [("MSFT", D(1))]
    # the latest run holds only trend: all of MSFT (30.00) is trend's, AAPL and IBM are unattributed
    assert trend["pnl"] == D("30.00") and cards.unattributed_pnl == D("19.30")


def _row(html: str, strategy) -> str:
    return html.split(f'id="strategy-{strategy.pk}"')[1].split("</tr>")[0]


def test_page_shows_the_table_to_a_viewer_without_toggles(client, viewer, book):
    client.force_login(viewer)
    html = client.get("/strategies/").content.decode()
    trend = _row(html, book["trend"])
    assert '<td class="num strategy-pnl ok">+46.20</td>' in trend
    assert '<td class="num strategy-sharpe" title="3 daily returns of its signals">4.58</td>' in trend
    assert '<td class="num strategy-exposure">508.20<br><span class="muted small">36.8% of gross</span></td>' in trend
    assert '<span class="signal-date">2026-03-05</span><br><span class="small">AAPL 100%</span>' in trend
    blend = _row(html, book["blend"])
    assert "AAPL 50% · MSFT 50%" in blend and "+53.10" in blend and "6.00" in blend
    idle = _row(html, book["idle"])
    assert "none yet" in idle and "disabled" in idle
    unattributed = html.split('id="strategy-unattributed"')[1].split("</tr>")[0]
    assert '<td class="num bad">-50.00</td>' in unattributed and "200.00" in unattributed
    assert '<td class="num ok">+49.30</td>' in html.split('id="strategy-total"')[1].split("</tr>")[0]
    assert "Toggle…" not in html and 'name="reason"' not in html  # a viewer sees, cannot toggle
    # the allocation preview is there without asking: the latest session's
    assert 'id="allocation"' in html and "latest session" in html
    assert '<input type="date" name="as_of" value="2026-03-05"' in html  # D4, the latest bar's session


@pytest.mark.slow  # over 1.5 s here: kept out of make test-fast
def test_operator_toggles_a_symbol_from_the_table(client, operator, book):
    from strategies.models import StrategySymbol
    from trading_site.models import ActionLog

    client.force_login(operator)
    html = client.get("/strategies/").content.decode()
    row = _row(html, book["blend"])
    assert "Toggle…" in row and f'action="/strategies/{book["blend"].pk}/symbols/toggle/"' in row
    client.post(
        f"/strategies/{book['blend'].pk}/symbols/toggle/",
        {"symbol": "MSFT", "enabled": "false", "reason": "earnings tonight"},
    )
    assert not StrategySymbol.objects.get(strategy=book["blend"], asset__symbol="MSFT").enabled
    log = ActionLog.objects.get(action="strategy.symbol_toggle")
    assert (log.actor, log.reason) == (operator, "earnings tonight")
    assert 'title="disabled">MSFT (off)</span>' in _row(client.get("/strategies/").content.decode(), book["blend"])


def test_viewer_cannot_toggle(client, viewer, book):
    from strategies.models import Strategy
    from trading_site.models import ActionLog

    logged = ActionLog.objects.count()
    client.force_login(viewer)
    response = client.post(f"/strategies/{book['trend'].pk}/toggle/", {"enabled": "false", "reason": "x"})
    assert response.status_code == 403
    assert Strategy.objects.get(pk=book["trend"].pk).enabled and ActionLog.objects.count() == logged


@pytest.mark.parametrize("extra", [0, 6])
def test_strategies_page_query_count_is_fixed(client, viewer, book, warm_quotes, django_assert_num_queries, extra):
    # given more strategies with more signal runs, the page costs the same number of queries
    for i in range(extra):
        s = strategy_create(
            actor=None,
            name=f"extra{i}",
            kind="sma_crossover",
            parameters={"fast": 2, "slow": 3},
            symbols=["AAPL", "MSFT", "IBM"],
        )
        _signals(f"extra-{i}", D3, {s.name: {"AAPL": "0.2", "IBM": "0.3", "MSFT": "0.5"}}, {s.name: s})
    client.force_login(viewer)
    client.get("/strategies/")  # warms the quote and risk-state caches
    # session, user, groups; strategies and their symbols; the latest run and its rows; positions (open,
    # every); last signal per strategy, the signal window, closes and corporate actions; and the
    # allocation preview: strategies, symbols, closes, corporate actions, caps, disabled strategies
    with django_assert_num_queries(19):
        response = client.get("/strategies/")
    assert len(re.findall(r'<tr class="strategy" id="strategy-', response.content.decode())) == 3 + extra
