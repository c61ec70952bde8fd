"""Each pre-trade rule as a pure function, on worked examples."""

from decimal import Decimal

import pytest

from orders.pretrade import PreTradeRejection
from risk import checks
from risk.orders_port import AccountData
from risk.state import PhaseData
from risk.tests.conftest import make_intent

D = Decimal


def _code(fn, *args, **kwargs) -> str | None:
    try:
        fn(*args, **kwargs)
    except PreTradeRejection as exc:
        return exc.code
    return None


@pytest.mark.parametrize(
    ("side", "qty", "position", "increasing", "opening"),
    [
        ("buy", "10", "0", True, "10"),
        ("buy", "10", "5", True, "10"),
        ("sell", "5", "10", False, "0"),  # reducing a long
        ("sell", "10", "10", False, "0"),  # closing a long exactly
        ("sell", "15", "10", True, "5"),  # crossing to a 5-share short
        ("buy", "4", "-10", False, "0"),  # covering part of a short
        ("buy", "12", "-10", True, "2"),
        ("sell", "1", "0", True, "1"),  # opening a short
    ],
)
def test_position_arithmetic(side, qty, position, increasing, opening):
    assert checks.is_risk_increasing(side=side, qty=D(qty), position_qty=D(position)) is increasing
    assert checks.opening_qty(side=side, qty=D(qty), position_qty=D(position)) == D(opening)


def test_kill_switch_refuses_everything_but_its_own_flattening_orders():
    assert _code(checks.check_kill_switch, make_intent(), engaged=True) == "KILL_SWITCH_ENGAGED"
    assert _code(checks.check_kill_switch, make_intent(source="twap"), engaged=True) == "KILL_SWITCH_ENGAGED"
    assert _code(checks.check_kill_switch, make_intent(source="kill_switch"), engaged=True) is None
    assert _code(checks.check_kill_switch, make_intent(), engaged=False) is None
    # a kill-switch order that would open risk is refused too
    intent = make_intent(source="kill_switch", side="buy")
    assert _code(checks.check_kill_switch_order, intent, position_qty=D("0")) == "KILL_SWITCH_ENGAGED"
    assert _code(checks.check_kill_switch_order, make_intent(source="kill_switch", side="sell"), position_qty=D("10")) is None


def test_open_breaker_blocks_only_risk_increasing_orders():
    assert _code(checks.check_breakers, make_intent(), open_breakers=("daily_loss",), increasing=True) == "CIRCUIT_BREAKER_OPEN"
    assert _code(checks.check_breakers, make_intent(side="sell"), open_breakers=("daily_loss",), increasing=False) is None
    assert _code(checks.check_breakers, make_intent(), open_breakers=(), increasing=True) is None


def test_order_notional_at_and_above_the_limit():
    # 250 shares x 100.00 = 25,000.00 = the limit: allowed; 250.01 shares: 25,001.00 refused
    assert _code(checks.check_order_notional, make_intent(qty=D("250")), price=D("100"), limit=D("25000")) is None
    assert _code(checks.check_order_notional, make_intent(qty=D("250.01")), price=D("100"), limit=D("25000")) == "MAX_ORDER_NOTIONAL"


def test_position_notional_counts_the_existing_position():
    # holding 400 at 100 = 40,000; buying 100 more → 50,000 (allowed), 101 → 50,100 (refused)
    assert _code(checks.check_position_notional, make_intent(qty=D("100")), price=D("100"), position_qty=D("400"), limit=D("50000")) is None
    assert _code(checks.check_position_notional, make_intent(qty=D("101")), price=D("100"), position_qty=D("400"), limit=D("50000")) == "MAX_POSITION_NOTIONAL"


def test_gross_exposure_adds_only_the_change_in_absolute_position():
    # gross 195,000; flat in AAPL; buying 50 x 100 → 200,000 allowed, 51 → 200,100 refused
    kwargs = {"price": D("100"), "position_qty": D("0"), "gross": D("195000"), "limit": D("200000")}
    assert _code(checks.check_gross_exposure, make_intent(qty=D("50")), **kwargs) is None
    assert _code(checks.check_gross_exposure, make_intent(qty=D("51")), **kwargs) == "MAX_GROSS_EXPOSURE"
    # long 10, sell 30 → short 20: |−20| − |10| = +10 shares of exposure = +1,000
    assert checks.gross_after(intent=make_intent(side="sell", qty=D("30")), price=D("100"), position_qty=D("10"),
                              gross=D("5000")) == D("6000")


def test_price_band_on_limit_orders():
    band = D("0.05")
    # last 100.00: limit 105.00 is exactly 5% away (allowed); 105.01 refused; 94.99 refused
    ok = make_intent(order_type="limit", limit_price=D("105.00"))
    assert _code(checks.check_price_band, ok, last_price=D("100"), band_pct=band) is None
    high = make_intent(order_type="limit", limit_price=D("105.01"))
    assert _code(checks.check_price_band, high, last_price=D("100"), band_pct=band) == "PRICE_BAND"
    low = make_intent(order_type="limit", limit_price=D("94.99"), side="sell")
    assert _code(checks.check_price_band, low, last_price=D("100"), band_pct=band) == "PRICE_BAND"
    assert _code(checks.check_price_band, make_intent(), last_price=D("100"), band_pct=band) is None


def _account(**kw) -> AccountData:
    values = {"equity": D("10000"), "cash": D("10000"), "buying_power": D("20000"), "multiplier": D("2"),
              "shorting_enabled": True, "status": "ACTIVE"}
    values.update(kw)
    return AccountData(**values)


def test_buying_power_checks_the_opening_part_only():
    # buying power 20,000: 200 x 100 fits; 201 x 100 = 20,100 does not
    assert _code(checks.check_buying_power, make_intent(qty=D("200")), price=D("100"), position_qty=D("0"), account=_account()) is None
    assert _code(checks.check_buying_power, make_intent(qty=D("201")), price=D("100"), position_qty=D("0"),
                 account=_account()) == "INSUFFICIENT_BUYING_POWER"
    # covering a 150 short with a 351 buy opens 201 long → 20,100 > 20,000
    assert _code(checks.check_buying_power, make_intent(qty=D("351")), price=D("100"), position_qty=D("-150"),
                 account=_account()) == "INSUFFICIENT_BUYING_POWER"
    # a cash account (multiplier 1) cannot open a short
    short = make_intent(side="sell", qty=D("1"))
    assert _code(checks.check_buying_power, short, price=D("100"), position_qty=D("0"),
                 account=_account(multiplier=D("1"))) == "INSUFFICIENT_BUYING_POWER"
    assert _code(checks.check_buying_power, short, price=D("100"), position_qty=D("0"),
                 account=_account(shorting_enabled=False)) == "INSUFFICIENT_BUYING_POWER"
    assert _code(checks.check_buying_power, short, price=D("100"), position_qty=D("0"), account=_account()) is None


def test_market_hours_policy():
    closed = {"regular_open": False, "extended_open": True, "allow_extended": True, "always_open": False}
    assert _code(checks.check_market_hours, make_intent(), **closed) == "MARKET_CLOSED"
    ext_limit_day = make_intent(order_type="limit", limit_price=D("100"), extended_hours=True)
    assert _code(checks.check_market_hours, ext_limit_day, **closed) is None
    assert _code(checks.check_market_hours, ext_limit_day, **(closed | {"allow_extended": False})) == "MARKET_CLOSED"
    # extended hours need limit + DAY, as Alpaca requires
    ext_market = make_intent(extended_hours=True)
    assert _code(checks.check_market_hours, ext_market, **closed) == "MARKET_CLOSED"
    ext_gtc = make_intent(order_type="limit", limit_price=D("100"), time_in_force="gtc", extended_hours=True)
    assert _code(checks.check_market_hours, ext_gtc, **closed) == "MARKET_CLOSED"
    assert _code(checks.check_market_hours, make_intent(), **(closed | {"regular_open": True})) is None
    assert _code(checks.check_market_hours, make_intent(), **(closed | {"always_open": True})) is None


PHASE_1 = PhaseData(number=1, name="Tiny notional", capital_cap=D("500"), symbols=("SPY", "QQQ"))


def test_rollout_phase_symbol_allow_list_and_capital_cap():
    assert _code(checks.check_symbol, make_intent(symbol="AAPL"), denylist=(), phase=PHASE_1) == "SYMBOL_NOT_ALLOWED"
    assert _code(checks.check_symbol, make_intent(symbol="SPY"), denylist=(), phase=PHASE_1) is None
    assert _code(checks.check_symbol, make_intent(symbol="SPY"), denylist=("SPY",), phase=None) == "SYMBOL_NOT_ALLOWED"
    # gross 300 + 2 x 100 = 500 = cap (allowed); + 3 x 100 = 600 refused
    kwargs = {"phase": PHASE_1, "price": D("100"), "position_qty": D("0"), "gross": D("300")}
    assert _code(checks.check_rollout_cap, make_intent(symbol="SPY", qty=D("2")), **kwargs) is None
    assert _code(checks.check_rollout_cap, make_intent(symbol="SPY", qty=D("3")), **kwargs) == "ROLLOUT_PHASE_LIMIT"
    assert _code(checks.check_rollout_cap, make_intent(symbol="SPY", qty=D("1")), **(kwargs | {"phase": None})) == "ROLLOUT_PHASE_LIMIT"


def test_rollout_enforced_for_live_only_unless_configured(settings):
    from risk.tests.conftest import make_state

    settings.BROKER, settings.ALPACA_PAPER = "alpaca", False
    assert checks.rollout_enforced(limits=make_state().limits)
    settings.ALPACA_PAPER = True
    assert not checks.rollout_enforced(limits=make_state().limits)
    assert checks.rollout_enforced(limits=make_state(rollout_phase=1, rollout_on_paper=True).limits)
    settings.BROKER = "simulated"
    assert not checks.rollout_enforced(limits=make_state(rollout_phase=1).limits)
