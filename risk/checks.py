"""Pre-trade checks on the gateway's path.

Two hooks are registered with ``orders.pretrade`` (see ``RiskConfig.ready``):

- ``risk.controls`` (order 10): kill switch, circuit breakers, symbol rules, market hours, order and
  position notional, gross exposure, price band, buying power, rollout phase. It reads the cached
  :class:`~risk.state.RiskState` (one cache GET) and loads the position, prices and account only
  when a check needs them.
- ``risk.rate_limits`` (order 1000, after every other check so a refused order uses no budget):
  60 orders and 200 broker requests per minute, shared by all processes.

Each rule is a pure function of the order and explicit inputs, raising ``PreTradeRejection`` with
a machine-readable code; the tests feed them worked examples directly.

Who is exempt from what:
- Flattening orders the kill switch creates (``source="kill_switch"``) must reduce the position;
  every other check is skipped so an emergency exit is never blocked by a limit or the clock.
- Reducing orders (they shrink ``|position|`` without crossing zero) pass the breakers and the
  limits that measure risk taken (position notional, gross exposure, buying power, rollout cap).
- Exits from dynamic risk (``source="risk"``) that reduce skip the order-notional cap too.
- A TWAP parent (an intent with ``slice_qty``) is checked whole when it is created: kill switch,
  breakers, allow-lists, market hours at its start, position/exposure/rollout cap/buying power for
  the whole quantity, the order-notional cap for its largest slice; it uses no rate budget.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from decimal import Decimal

from django.conf import settings

from marketdata import market_clock
from orders.pretrade import OrderIntent, PreTradeRejection
from risk import conf, limiter, orders_port
from risk.state import LimitsData, PhaseData, RiskState, risk_state

KILL_SWITCH_ENGAGED = "KILL_SWITCH_ENGAGED"
CIRCUIT_BREAKER_OPEN = "CIRCUIT_BREAKER_OPEN"
MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
MAX_POSITION_NOTIONAL = "MAX_POSITION_NOTIONAL"
MAX_GROSS_EXPOSURE = "MAX_GROSS_EXPOSURE"
PRICE_BAND = "PRICE_BAND"
ORDER_RATE = "ORDER_RATE"
BROKER_RATE = "BROKER_RATE"
MARKET_CLOSED = "MARKET_CLOSED"
INSUFFICIENT_BUYING_POWER = "INSUFFICIENT_BUYING_POWER"
ROLLOUT_PHASE_LIMIT = "ROLLOUT_PHASE_LIMIT"
SYMBOL_NOT_ALLOWED = "SYMBOL_NOT_ALLOWED"

KILL_SWITCH_SOURCE = "kill_switch"
RISK_SOURCE = "risk"
ORDER_RATE_KEY = "orders"
BROKER_RATE_KEY = "broker"


# --- position arithmetic --------------------------------------------------------------------------


def new_position(*, side: str, qty: Decimal, position_qty: Decimal) -> Decimal:
    return position_qty + (qty if side == "buy" else -qty)


def is_risk_increasing(*, side: str, qty: Decimal, position_qty: Decimal) -> bool:
    """True unless the order only shrinks the position (a sell of at most a long, a buy of at most a short)."""
    after = new_position(side=side, qty=qty, position_qty=position_qty)
    if position_qty == 0:
        return True
    same_sign = (after >= 0) if position_qty > 0 else (after <= 0)
    return not (same_sign and abs(after) < abs(position_qty))


def opening_qty(*, side: str, qty: Decimal, position_qty: Decimal) -> Decimal:
    """The part of the order that opens or adds to exposure (0 for a pure reduction)."""
    if side == "buy":
        return qty if position_qty >= 0 else max(Decimal(0), qty + position_qty)
    return qty if position_qty <= 0 else max(Decimal(0), qty - position_qty)


# --- the rules, as pure functions -----------------------------------------------------------------


def check_kill_switch(intent: OrderIntent, *, engaged: bool) -> None:
    if engaged and intent.source != KILL_SWITCH_SOURCE:
        raise PreTradeRejection(KILL_SWITCH_ENGAGED, "The kill switch is engaged: no new orders until an admin resets it.")


def check_kill_switch_order(intent: OrderIntent, *, position_qty: Decimal) -> None:
    """A kill-switch order may only flatten."""
    if is_risk_increasing(side=intent.side, qty=intent.qty, position_qty=position_qty):
        raise PreTradeRejection(KILL_SWITCH_ENGAGED, "Kill-switch orders may only reduce a position.")


def check_breakers(intent: OrderIntent, *, open_breakers: tuple[str, ...], increasing: bool) -> None:
    if open_breakers and increasing:
        names = ", ".join(open_breakers)
        raise PreTradeRejection(
            CIRCUIT_BREAKER_OPEN,
            f"Circuit breaker open ({names}): only orders that reduce a position are accepted.",
            data={"breakers": list(open_breakers)},
        )


def check_symbol(intent: OrderIntent, *, denylist: tuple[str, ...], phase: PhaseData | None) -> None:
    """Unknown and untradable symbols are refused earlier, by the gateway's input validation."""
    symbol = intent.symbol.upper()
    if symbol in denylist:
        raise PreTradeRejection(SYMBOL_NOT_ALLOWED, f"{symbol} is on the risk deny-list.")
    if phase is not None and phase.symbols and symbol not in phase.symbols:
        raise PreTradeRejection(
            SYMBOL_NOT_ALLOWED,
            f"{symbol} is not in rollout phase {phase.number}'s allow-list ({', '.join(phase.symbols)}).",
        )


def check_market_hours(
    intent: OrderIntent, *, regular_open: bool, extended_open: bool, allow_extended: bool, always_open: bool
) -> None:
    extended_ok = intent.order_type == "limit" and intent.time_in_force == "day"
    if intent.extended_hours and not extended_ok:
        raise PreTradeRejection(MARKET_CLOSED, "Extended-hours orders must be limit orders with time in force DAY.")
    if always_open or regular_open:
        return
    if intent.extended_hours and extended_open and allow_extended:
        return
    if intent.extended_hours and extended_open:
        raise PreTradeRejection(MARKET_CLOSED, "Extended-hours trading is not enabled in the risk limits.")
    raise PreTradeRejection(MARKET_CLOSED, "The market is closed (regular hours only).")


def check_order_notional(intent: OrderIntent, *, price: Decimal, limit: Decimal) -> None:
    """One order's notional; for a TWAP parent its largest slice (the orders the broker sees)."""
    qty = intent.qty if intent.slice_qty is None else intent.slice_qty
    notional = qty * price
    if notional > limit:
        what = "Order" if intent.slice_qty is None else "Largest TWAP slice"
        raise PreTradeRejection(
            MAX_ORDER_NOTIONAL,
            f"{what} notional {notional:.2f} exceeds the maximum of {limit:.2f}.",
            data={"notional": str(notional), "limit": str(limit)},
        )


def check_position_notional(intent: OrderIntent, *, price: Decimal, position_qty: Decimal, limit: Decimal) -> None:
    after = abs(new_position(side=intent.side, qty=intent.qty, position_qty=position_qty)) * price
    if after > limit:
        raise PreTradeRejection(
            MAX_POSITION_NOTIONAL,
            f"Position notional after the order {after:.2f} exceeds the maximum of {limit:.2f}.",
            data={"position_notional": str(after), "limit": str(limit)},
        )


def gross_after(*, intent: OrderIntent, price: Decimal, position_qty: Decimal, gross: Decimal) -> Decimal:
    after = new_position(side=intent.side, qty=intent.qty, position_qty=position_qty)
    return gross + (abs(after) - abs(position_qty)) * price


def check_gross_exposure(
    intent: OrderIntent, *, price: Decimal, position_qty: Decimal, gross: Decimal, limit: Decimal
) -> None:
    after = gross_after(intent=intent, price=price, position_qty=position_qty, gross=gross)
    if after > limit:
        raise PreTradeRejection(
            MAX_GROSS_EXPOSURE,
            f"Gross exposure after the order {after:.2f} exceeds the maximum of {limit:.2f}.",
            data={"gross_exposure": str(after), "limit": str(limit)},
        )


def check_price_band(intent: OrderIntent, *, last_price: Decimal | None, band_pct: Decimal) -> None:
    if intent.limit_price is None or last_price is None:
        return
    deviation = abs(intent.limit_price - last_price) / last_price
    if deviation > band_pct:
        raise PreTradeRejection(
            PRICE_BAND,
            f"Limit price {intent.limit_price} is {deviation:.2%} from the last price {last_price} "
            f"(band {band_pct:.2%}).",
            data={"limit_price": str(intent.limit_price), "last_price": str(last_price)},
        )


def check_buying_power(
    intent: OrderIntent, *, price: Decimal, position_qty: Decimal, account: orders_port.AccountData | None
) -> None:
    """The intraday margin check: the opening part of an order must fit in buying power."""
    if account is None:
        return
    opening = opening_qty(side=intent.side, qty=intent.qty, position_qty=position_qty)
    if opening <= 0:
        return
    opens_short = intent.side == "sell"
    cannot_short = (account.multiplier is not None and account.multiplier <= 1) or account.shorting_enabled is False
    if opens_short and cannot_short:
        raise PreTradeRejection(
            INSUFFICIENT_BUYING_POWER, "This order would open a short position and the account cannot short."
        )
    needed = opening * price
    if needed > account.buying_power:
        raise PreTradeRejection(
            INSUFFICIENT_BUYING_POWER,
            f"Opening notional {needed:.2f} exceeds buying power {account.buying_power:.2f}.",
            data={"needed": str(needed), "buying_power": str(account.buying_power)},
        )


def rollout_enforced(*, limits: LimitsData) -> bool:
    live = settings.BROKER == "alpaca" and not settings.ALPACA_PAPER
    return live or (limits.rollout_on_paper and limits.rollout_phase is not None)


def check_rollout_cap(
    intent: OrderIntent, *, phase: PhaseData | None, price: Decimal, position_qty: Decimal, gross: Decimal
) -> None:
    if phase is None:
        raise PreTradeRejection(ROLLOUT_PHASE_LIMIT, "Live trading needs a rollout phase (1-4) set by an admin.")
    after = gross_after(intent=intent, price=price, position_qty=position_qty, gross=gross)
    if after > phase.capital_cap:
        raise PreTradeRejection(
            ROLLOUT_PHASE_LIMIT,
            f"Gross exposure after the order {after:.2f} exceeds rollout phase {phase.number}'s "
            f"capital cap of {phase.capital_cap:.2f}.",
            data={"gross_exposure": str(after), "capital_cap": str(phase.capital_cap)},
        )


def check_rates(intent: OrderIntent, *, orders_per_minute: int, broker_requests_per_minute: int) -> None:
    """One order is one order and one broker request; both windows count it, or neither does."""

    full = limiter.hit_all(
        limits={ORDER_RATE_KEY: orders_per_minute, BROKER_RATE_KEY: broker_requests_per_minute},
        now=intent.now,
        window=conf.RATE_WINDOW_SECONDS,
    )
    if full == ORDER_RATE_KEY:
        raise PreTradeRejection(ORDER_RATE, f"More than {orders_per_minute} orders in the last minute; try again shortly.")
    if full == BROKER_RATE_KEY:
        raise PreTradeRejection(
            BROKER_RATE, f"More than {broker_requests_per_minute} broker requests in the last minute; try again shortly."
        )


def rates_peek(intent: OrderIntent, *, orders_per_minute: int, broker_requests_per_minute: int) -> None:
    """A preview's rate check: refuses when a window is already full, and counts nothing."""
    window = conf.RATE_WINDOW_SECONDS
    if limiter.count(name=ORDER_RATE_KEY, now=intent.now, window=window) >= orders_per_minute:
        raise PreTradeRejection(ORDER_RATE, f"More than {orders_per_minute} orders in the last minute; try again shortly.")
    if limiter.count(name=BROKER_RATE_KEY, now=intent.now, window=window) >= broker_requests_per_minute:
        raise PreTradeRejection(
            BROKER_RATE, f"More than {broker_requests_per_minute} broker requests in the last minute; try again shortly."
        )


# --- the hooks the gateway runs -------------------------------------------------------------------


class _Context:
    """Loads position, prices, exposure and account once, and only when a rule asks."""

    __slots__ = ("_account", "_exposure", "_last", "intent")

    _UNSET = object()

    def __init__(self, intent: OrderIntent) -> None:
        self.intent = intent
        self._exposure = self._last = self._account = self._UNSET

    def _load_exposure(self) -> orders_port.Exposure:
        if self._exposure is self._UNSET:
            self._exposure = orders_port.exposure(symbol=self.intent.symbol)
        return self._exposure

    @property
    def position_qty(self) -> Decimal:
        return self._load_exposure().position_qty

    @property
    def last_price(self) -> Decimal | None:
        if self._last is self._UNSET:
            self._last = orders_port.last_price(symbol=self.intent.symbol)
        return self._last

    @property
    def price(self) -> Decimal | None:
        """Price for notional arithmetic: the limit, else the gateway's reference, else the last price."""
        return self.intent.limit_price or self.intent.reference_price or self.last_price

    @property
    def gross(self) -> Decimal:
        return self._load_exposure().gross

    @property
    def account(self) -> orders_port.AccountData | None:
        if self._account is self._UNSET:
            self._account = orders_port.account()
        return self._account


def controls_run(intent: OrderIntent, *, state: RiskState | None = None) -> None:
    state = state if state is not None else risk_state()
    limits = state.limits
    ctx = _Context(intent)

    check_kill_switch(intent, engaged=state.kill_switch_engaged)
    if intent.source == KILL_SWITCH_SOURCE:
        check_kill_switch_order(intent, position_qty=ctx.position_qty)
        return

    increasing = is_risk_increasing(side=intent.side, qty=intent.qty, position_qty=ctx.position_qty)
    check_breakers(intent, open_breakers=state.open_breakers, increasing=increasing)

    enforce_phase = rollout_enforced(limits=limits)
    phase = state.phase if enforce_phase else None
    if increasing:
        check_symbol(intent, denylist=limits.symbol_denylist, phase=phase)

    always = market_clock.always_open()
    check_market_hours(
        intent,
        regular_open=always or market_clock.is_open(intent.now),
        extended_open=always or market_clock.is_open(intent.now, extended=True),
        allow_extended=limits.allow_extended_hours,
        always_open=always,
    )

    if intent.limit_price is not None:
        check_price_band(intent, last_price=ctx.last_price, band_pct=limits.price_band_pct)
    price = ctx.price
    if price is None:
        if increasing:
            raise PreTradeRejection(PRICE_BAND, f"No price for {intent.symbol}: the order cannot be checked.")
        return
    if increasing or intent.source != RISK_SOURCE:
        check_order_notional(intent, price=price, limit=limits.max_order_notional)
    if not increasing:
        return
    check_position_notional(intent, price=price, position_qty=ctx.position_qty, limit=limits.max_position_notional)
    check_gross_exposure(
        intent, price=price, position_qty=ctx.position_qty, gross=ctx.gross, limit=limits.max_gross_exposure
    )
    if enforce_phase:
        check_rollout_cap(intent, phase=state.phase, price=price, position_qty=ctx.position_qty, gross=ctx.gross)
    check_buying_power(intent, price=price, position_qty=ctx.position_qty, account=ctx.account)


def rate_limits_run(intent: OrderIntent, *, state: RiskState | None = None) -> None:
    if intent.source == KILL_SWITCH_SOURCE or intent.slice_qty is not None:
        return  # a TWAP parent is never sent: each of its slices counts when it goes out
    limits = (state if state is not None else risk_state()).limits
    if intent.dry_run:
        rates_peek(intent, orders_per_minute=limits.orders_per_minute,
                   broker_requests_per_minute=limits.broker_requests_per_minute)
        return
    check_rates(
        intent, orders_per_minute=limits.orders_per_minute, broker_requests_per_minute=limits.broker_requests_per_minute
    )


_last = threading.local()  # the state read for the intent being checked, shared by the two hooks
# (state, rate limits on?) for the current thread/task only: see controls_override.
_override: contextvars.ContextVar[tuple[RiskState, bool] | None] = contextvars.ContextVar("risk_override", default=None)


@contextlib.contextmanager
def controls_override(*, state: RiskState, rate_limits: bool = True) -> Iterator[None]:
    """Run the two hooks with ``state`` instead of the cached live snapshot and, with
    ``rate_limits=False``, without the wall-clock rate limiter — in this thread (or task) only.

    Replay uses it: the live limits, with no kill switch, breakers or rollout phase (a backtest is
    not live trading) and no rate limiter (its orders are not broker requests). Every rule still
    runs through :func:`controls_run`; live orders placed meanwhile by other threads are unaffected.
    """
    token = _override.set((state, rate_limits))
    try:
        yield
    finally:
        _override.reset(token)


def pretrade_controls(intent: OrderIntent) -> None:
    override = _override.get()
    state = override[0] if override is not None else risk_state()
    _last.intent, _last.state = intent, state
    controls_run(intent, state=state)


def pretrade_rate_limits(intent: OrderIntent) -> None:
    override = _override.get()
    if override is not None and not override[1]:
        return
    state = _last.state if getattr(_last, "intent", None) is intent else None
    _last.intent = _last.state = None
    rate_limits_run(intent, state=state)
