"""The daily trading workflow: market-open check, the rebalance chain, and the market-close report.

Rebalance (:func:`rebalance_run`) is a dependency chain recorded as a :class:`RebalanceRun` with one
:class:`RebalanceStep` per link::

    data → signals → allocation → risk → orders → submit → record

- each step runs only when the previous one completed; a step that raises stops the chain, is stored
  as ``failed`` with its error, the run is ``failed``, and an :class:`~trading_site.models.Alert` is
  raised. Nothing is submitted unless every step before ``submit`` completed;
- the run of a trading day is unique (``day``, ``mode``). Re-running a *completed* day returns the
  stored run and submits nothing. Re-running a failed day retries the chain in the same row; its
  orders carry deterministic ``client_order_id`` s (run day + symbol + side), so an order the gateway
  already has is returned, never doubled;
- order generation (:func:`orders_plan`) is pure: target shares = weight × equity / price (whole
  shares unless fractional trading is on and the asset is fractionable), minus the current position
  and the remaining quantity of open orders; trades below the minimum size are skipped (closing a
  position never is); sells come before buys so the buys are funded;
- :func:`order_route` sends orders above ``REBALANCE_TWAP_NOTIONAL`` as a TWAP parent
  (``orders.slicing.twap_order_create``, ``REBALANCE_TWAP_SLICES`` slices ending a minute before the
  close), the others as one gateway order.

Replay (``strategies.replay``) calls the same :func:`rebalance_chain` with a :class:`ChainInputs`
whose signals come from the one-pass :func:`~strategies.services.signals_history` and whose ledger
state comes from its in-memory mirror; live builds it from the database and the broker
(:func:`live_inputs`). Everything after the inputs is the same code.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max

from strategies import conf
from strategies.allocation import METHODS, AllocationResult
from strategies.models import Asset, Bar, DailyPerformance, RebalanceRun, RebalanceStep, RunStatus, Strategy
from strategies.services import SignalSet, allocator_from_settings, signals_compute
from trading_site.alerts import alert_raise
from trading_site.api.errors import DomainError
from trading_site.lib import clock

logger = logging.getLogger(__name__)

STEPS = ("data", "signals", "allocation", "risk", "orders", "submit", "record")
SHARE_QUANTUM = Decimal("0.000000001")
ORDER_SOURCE = "signal"
# Longer than the rebalance task's hard time limit: a "running" run older than this was abandoned.
RUNNING_TIMEOUT = dt.timedelta(minutes=35)


class StepError(Exception):
    """A step's failure (its message is stored on the step and the run)."""


# --- pure order generation ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    target_qty: Decimal
    current_qty: Decimal

    @property
    def notional(self) -> Decimal:
        return self.qty * self.price

    def as_dict(self) -> dict:
        return {"symbol": self.symbol, "side": self.side, "qty": str(self.qty), "price": str(self.price),
                "target_qty": str(self.target_qty), "current_qty": str(self.current_qty)}


def target_quantity(*, weight: float, equity: Decimal, price: Decimal, fractional: bool) -> Decimal:
    """Shares worth ``weight × equity`` at ``price``, rounded toward zero (whole shares unless fractional)."""
    raw = Decimal(repr(float(weight))) * equity / price
    return raw.quantize(SHARE_QUANTUM if fractional else Decimal(1), rounding=ROUND_DOWN)


def orders_plan(
    *,
    targets: dict[str, float],
    equity: Decimal,
    prices: dict[str, Decimal],
    positions: dict[str, Decimal],
    pending: dict[str, Decimal],
    fractionable: frozenset[str] | set[str] = frozenset(),
    min_notional: Decimal = Decimal(0),
) -> list[PlannedOrder]:
    """Orders moving the book to ``targets`` (weights of equity). Pure; sells first, then buys, by symbol.

    ``positions`` and ``pending`` are signed quantities (pending = open orders' remaining quantity).
    A symbol without a price gets no order. A trade under ``min_notional`` is skipped unless it closes
    the position.
    """
    planned: list[PlannedOrder] = []
    for symbol in sorted(set(targets) | set(positions) | set(pending)):
        price = prices.get(symbol)
        if price is None or price <= 0:
            continue
        weight = max(float(targets.get(symbol, 0.0)), 0.0)
        target = target_quantity(weight=weight, equity=equity, price=price, fractional=symbol in fractionable)
        current = positions.get(symbol, Decimal(0)) + pending.get(symbol, Decimal(0))
        delta = target - current
        if delta == 0:
            continue
        if abs(delta) * price < min_notional and target != 0:
            continue
        side = "buy" if delta > 0 else "sell"
        planned.append(PlannedOrder(symbol, side, abs(delta), price, target, current))
    planned.sort(key=lambda o: (o.side != "sell", o.symbol))
    return planned


def min_trade_notional(*, equity: Decimal) -> Decimal:
    return max(conf.REBALANCE_MIN_TRADE_NOTIONAL, conf.REBALANCE_MIN_TRADE_FRACTION * equity)


def client_order_id_for_run(*, run: RebalanceRun, symbol: str, side: str) -> str:
    """Deterministic per run day, mode, symbol and side: a retried day never doubles an order."""
    from orders.gateway import client_order_id_for

    return client_order_id_for(source=ORDER_SOURCE, key=f"rebalance|{run.mode}|{run.day.isoformat()}|{symbol}|{side}")


# --- allocation from a signal set (shared by live and replay) ------------------------------------------


def allocation_from_signals(
    *, signal_set: SignalSet, method: str, gross: float, caps: dict[str, float], alert_correlation: bool
) -> AllocationResult:
    """Blend a day's signals with the configured allocator (the same one as ``allocation_compute``)."""
    allocator = allocator_from_settings(method=method, gross=gross, caps=caps)
    result = allocator.allocate(signal_set.signals, signal_set.stats)
    if alert_correlation and not signal_set.returns.empty:
        allocator.check_correlation(signal_set.returns)
    return result


def weights_of(allocation: AllocationResult) -> dict[str, float]:
    frame = allocation.weights
    if frame is None or frame.empty:
        return {}
    return {str(s): float(w) for s, w in zip(frame["symbol"], frame["final_weight"], strict=True) if w > 0}


# --- chain inputs ------------------------------------------------------------------------------------


@dataclass
class ChainInputs:
    """Where a run gets its data. Live: :func:`live_inputs`; replay: ``strategies.replay``."""

    check_data: Callable[[dt.date], dict]
    signals: Callable[[dt.date], SignalSet]
    record_signals: Callable[[dt.date, str], int]
    caps: Callable[[], dict[str, float]]
    ledger: Callable[[list[str]], tuple[Decimal, dict[str, Decimal], dict[str, Decimal], dict[str, Decimal]]]
    fractionable: Callable[[], frozenset[str]]
    risk_blocked: Callable[[], str] = lambda: _risk_blocked_live()
    alert_correlation: bool = True
    on_submitted: Callable[[list], None] | None = None
    # Replay has already blended the day's signals (to decide whether the day trades): it hands that
    # result over instead of computing the same allocation a second time.
    allocation: AllocationResult | None = None


def _data_check_live(day: dt.date) -> dict:
    from risk import market_clock

    symbols = sorted(
        {s for s in Strategy.objects.filter(enabled=True, symbols__enabled=True)
         .values_list("symbols__asset__symbol", flat=True) if s}
    )
    if not symbols:
        raise StepError("no enabled strategy has an enabled symbol")
    if settings.BROKER == "alpaca":
        from strategies.alpaca_data import bars_refresh_alpaca

        bars_refresh_alpaca(end=day, symbols=symbols)
    latest = dict(
        Bar.objects.filter(asset__symbol__in=symbols, session__lte=day)
        .values_list("asset__symbol").annotate(last=Max("session"))
    )
    window = market_clock.sessions_window(ending=market_clock.previous_session(day), count=conf.REBALANCE_MAX_STALE_SESSIONS)
    oldest_allowed = window[0] if window else day
    stale = sorted(s for s in symbols if latest.get(s) is None or latest[s] < oldest_allowed)
    if stale:
        raise StepError(
            f"stale data: {', '.join(stale[:10])}{'…' if len(stale) > 10 else ''} have no bar since {oldest_allowed}"
        )
    return {"symbols": len(symbols), "oldest_allowed": oldest_allowed.isoformat()}


def _risk_blocked_live() -> str:
    from risk.selectors import breaker_open, kill_switch_engaged

    if kill_switch_engaged():
        return "the kill switch is engaged: no rebalance orders"
    if breaker_open():
        return "a circuit breaker is open: no rebalance orders"
    return ""


def _record_signals_live(day: dt.date, run_id: str) -> int:
    from strategies.services import signals_record

    return signals_record(as_of=day, run_id=run_id).count


def _caps_live() -> dict[str, float]:
    return {name: float(cap) for name, cap in Strategy.objects.values_list("name", "capital_cap")}


def _ledger_live(symbols: list[str]):
    from django.db.models import Sum
    from django.db.models.functions import Coalesce

    from orders.brokers import get_broker
    from orders.models import OPEN_STATUSES, Order, OrderStatus, Position
    from orders.selectors import last_price

    equity = get_broker().get_account().equity
    positions = dict(Position.objects.exclude(qty=0).values_list("symbol", "qty"))
    pending: dict[str, Decimal] = {}
    # Open orders and working TWAP parents; a parent's remaining = its qty − what its children filled.
    working = Order.objects.filter(
        status__in=[*OPEN_STATUSES, OrderStatus.SCHEDULED], parent_order__isnull=True
    ).annotate(child_filled=Coalesce(Sum("children__filled_qty"), Decimal(0)))
    for symbol, side, qty, filled, child_filled in working.values_list(
        "symbol", "side", "qty", "filled_qty", "child_filled"
    ):
        remaining = qty - filled - child_filled
        pending[symbol] = pending.get(symbol, Decimal(0)) + (remaining if side == "buy" else -remaining)
    prices = {}
    for symbol in sorted(set(symbols) | set(positions) | set(pending)):
        price = last_price(symbol=symbol)
        if price is not None:
            prices[symbol] = price
    return equity, positions, pending, prices


def _fractionable_live() -> frozenset[str]:
    if not conf.REBALANCE_FRACTIONAL:
        return frozenset()
    return frozenset(Asset.objects.filter(fractionable=True).values_list("symbol", flat=True))


def live_inputs() -> ChainInputs:
    return ChainInputs(
        check_data=_data_check_live,
        signals=lambda day: signals_compute(as_of=day),
        record_signals=_record_signals_live,
        caps=_caps_live,
        ledger=_ledger_live,
        fractionable=_fractionable_live,
    )


# --- submission -----------------------------------------------------------------------------------------


def twap_slices() -> tuple[int, int]:
    """(slices, horizon in minutes) for a rebalance TWAP: one slice a minute or two, ending a minute
    before the close the rebalance runs ahead of."""
    horizon = max(conf.REBALANCE_MINUTES_BEFORE_CLOSE - 1, 1)
    return max(min(conf.REBALANCE_TWAP_SLICES, horizon), 1), horizon


def order_route(*, planned: PlannedOrder, client_order_id: str, strategy: str, reason: str):
    """Submit one planned order: a TWAP parent above ``REBALANCE_TWAP_NOTIONAL`` (0 = never), else one
    gateway order. Both are idempotent by the deterministic ``client_order_id``."""
    from orders.gateway import order_submit
    from orders.slicing import twap_order_create

    threshold = conf.REBALANCE_TWAP_NOTIONAL
    if threshold > 0 and planned.notional > threshold:
        slices, horizon = twap_slices()
        return twap_order_create(
            symbol=planned.symbol, side=planned.side, qty=planned.qty, slices=slices, horizon_minutes=horizon,
            actor=None, source=ORDER_SOURCE, reason=reason, strategy=strategy, clip_to_close=True,
            client_order_id=client_order_id,
        )
    return order_submit(
        symbol=planned.symbol,
        side=planned.side,
        qty=planned.qty,
        source=ORDER_SOURCE,
        strategy=strategy,
        reason=reason,
        client_order_id=client_order_id,
    )


# --- the chain ------------------------------------------------------------------------------------------


@dataclass
class ChainState:
    day: dt.date
    method: str
    gross: float
    signal_set: SignalSet | None = None
    allocation: AllocationResult | None = None
    weights: dict[str, float] = field(default_factory=dict)
    equity: Decimal = Decimal(0)
    planned: list[PlannedOrder] = field(default_factory=list)
    submitted: list = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)


def _run_claim(*, day: dt.date, mode: str, method: str) -> tuple[RebalanceRun, bool]:
    """The run row of the day; True when this call should execute the chain."""
    now = clock.now()
    try:
        with transaction.atomic():
            return RebalanceRun.objects.create(day=day, mode=mode, method=method, started_at=now), True
    except IntegrityError:
        pass
    run = RebalanceRun.objects.get(day=day, mode=mode)
    if run.status == RunStatus.COMPLETED:
        return run, False
    if run.status == RunStatus.RUNNING and run.started_at > now - RUNNING_TIMEOUT:
        return run, False  # another worker is on it (a duplicated delivery); an abandoned run is retried later
    # Retry a failed (or abandoned) run in place — compare-and-set so two workers never both retry.
    claimed = RebalanceRun.objects.filter(pk=run.pk, status=run.status, attempts=run.attempts).update(
        status=RunStatus.RUNNING, started_at=now, finished_at=None, error="", failed_step="",
        attempts=run.attempts + 1, method=method,
    )
    run.refresh_from_db()
    if claimed:
        run.steps.all().delete()
    return run, bool(claimed)


def _step(run: RebalanceRun, name: str, fn: Callable[[], tuple[int, dict]]) -> None:
    started, t0 = clock.now(), time.perf_counter()
    try:
        count, detail = fn()
    except Exception as exc:  # any failure of a step is recorded on it and stops the chain (not retried)
        message = str(exc) if isinstance(exc, StepError | DomainError) else f"{type(exc).__name__}: {exc}"
        RebalanceStep.objects.create(
            run=run, name=name, position=STEPS.index(name), status=RunStatus.FAILED, started_at=started,
            finished_at=clock.now(), duration_ms=(time.perf_counter() - t0) * 1000, error=message[:2000],
        )
        raise StepError(message) from exc
    RebalanceStep.objects.create(
        run=run, name=name, position=STEPS.index(name), status=RunStatus.COMPLETED, started_at=started,
        finished_at=clock.now(), duration_ms=(time.perf_counter() - t0) * 1000, count=count, detail=detail,
    )


def rebalance_chain(*, run: RebalanceRun, inputs: ChainInputs, state: ChainState) -> None:
    """Execute the steps in order; raises :class:`StepError` at the first failure (recorded)."""
    run_id = f"rebalance-{run.mode}-{run.day.isoformat()}"

    def data():
        return 0, inputs.check_data(state.day)

    def signals():
        state.signal_set = inputs.signals(state.day)
        if not state.signal_set.signals:
            raise StepError("no signals: no enabled strategy with data")
        count = inputs.record_signals(state.day, run_id)
        return count, {"session": state.signal_set.session.isoformat() if state.signal_set.session else None,
                       "strategies": sorted(state.signal_set.signals)}

    def allocation():
        state.allocation = inputs.allocation or allocation_from_signals(
            signal_set=state.signal_set, method=state.method, gross=state.gross, caps=inputs.caps(),
            alert_correlation=inputs.alert_correlation,
        )
        state.weights = weights_of(state.allocation)
        return len(state.weights), {"gross": round(sum(state.weights.values()), 9), "excluded": state.allocation.excluded}

    def risk():
        blocked = inputs.risk_blocked()
        if blocked:
            raise StepError(blocked)
        total = sum(state.weights.values())
        if any(w < 0 for w in state.weights.values()) or total > state.gross + 1e-6:
            raise StepError(f"allocation weights sum to {total:.6f}, above the gross {state.gross}")
        return 0, {"weights_total": round(total, 9)}

    def orders():
        equity, positions, pending, prices = inputs.ledger(sorted(state.weights))
        if equity <= 0:
            raise StepError(f"account equity is {equity}: nothing to allocate")
        missing = sorted(s for s in state.weights if s not in prices)
        if missing:
            raise StepError(f"no price for {', '.join(missing)}")
        state.equity = equity
        state.planned = orders_plan(
            targets=state.weights, equity=equity, prices=prices, positions=positions, pending=pending,
            fractionable=inputs.fractionable(), min_notional=min_trade_notional(equity=equity),
        )
        return len(state.planned), {"equity": str(equity), "orders": [o.as_dict() for o in state.planned]}

    def submit():
        from orders.brokers.base import BrokerRejected
        from orders.pretrade import PreTradeRejection

        for planned in state.planned:
            cid = client_order_id_for_run(run=run, symbol=planned.symbol, side=planned.side)
            try:
                order = order_route(planned=planned, client_order_id=cid, strategy="rebalance",
                                    reason=f"rebalance {run.day.isoformat()}")
            except (PreTradeRejection, BrokerRejected) as exc:
                # A definite "no" for this order only: recorded (the ledger keeps it as rejected) and
                # alerted; the other orders still go. Anything else (rate limit, outage) fails the step.
                state.rejected.append({"symbol": planned.symbol, "side": planned.side, "code": exc.code})
                continue
            state.submitted.append(order)
        if inputs.on_submitted is not None:
            inputs.on_submitted(state.submitted)
        return len(state.submitted), {"rejected": state.rejected}

    def record():
        RebalanceRun.objects.filter(pk=run.pk).update(
            orders_planned=len(state.planned), orders_submitted=len(state.submitted),
            orders_rejected=len(state.rejected),
        )
        return len(state.submitted), {}

    for name, fn in zip(STEPS, (data, signals, allocation, risk, orders, submit, record), strict=True):
        _step(run, name, fn)


def rebalance_run(
    *, day: dt.date | None = None, method: str | None = None, gross: float | None = None,
    mode: str = RebalanceRun.Mode.LIVE, inputs: ChainInputs | None = None,
) -> RebalanceRun:
    """Run (or return) the rebalance of ``day`` (default: today in New York)."""
    day = day or clock.today_ny()
    method = method or conf.ALLOCATION_METHOD
    if method not in METHODS:
        raise DomainError(f"unknown allocation method {method!r}", code="validation_error")
    gross_value = float(conf.ALLOCATION_GROSS if gross is None else gross)
    run, execute = _run_claim(day=day, mode=mode, method=method)
    if not execute:
        return run
    state = ChainState(day=day, method=method, gross=gross_value)
    try:
        rebalance_chain(run=run, inputs=inputs or live_inputs(), state=state)
    except StepError as exc:
        failed = run.steps.filter(status=RunStatus.FAILED).values_list("name", flat=True).first() or ""
        RebalanceRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, finished_at=clock.now(), failed_step=failed, error=str(exc)[:2000],
            orders_planned=len(state.planned), orders_submitted=len(state.submitted),
            orders_rejected=len(state.rejected),
        )
        alert_raise(
            source="rebalance", metric="rebalance_failed",
            message=f"rebalance {day.isoformat()} failed at step {failed}: {exc}",
            data={"run_id": run.pk, "day": day.isoformat(), "step": failed},
        )
    else:
        RebalanceRun.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED, finished_at=clock.now())
        if state.rejected:
            alert_raise(
                source="rebalance", metric="rebalance_rejected",
                message=f"rebalance {day.isoformat()}: {len(state.rejected)} order(s) rejected by pre-trade checks",
                data={"run_id": run.pk, "rejected": state.rejected},
            )
    run.refresh_from_db()
    run.planned = state.planned  # for callers (replay parity, the command's summary)
    return run


# --- market open and market close -------------------------------------------------------------------


def market_open_check() -> dict:
    """09:30: database, broker connection and account, data freshness. Problems raise an alert."""
    from orders.brokers import get_broker

    problems: list[str] = []
    result: dict = {}
    try:
        result["strategies"] = Strategy.objects.filter(enabled=True).count()
    except Exception as exc:  # the database itself is what is being checked
        problems.append(f"database: {exc}")
    try:
        broker = get_broker()
        result["broker"] = broker.health()
        account = broker.get_account()
        result["equity"] = str(account.equity)
        if account.equity <= 0:
            problems.append(f"account equity is {account.equity}")
    except Exception as exc:  # any broker failure is a finding, not a crash of the check
        problems.append(f"broker: {type(exc).__name__}: {exc}")
    try:
        result["data"] = _data_check_live(clock.today_ny())
    except (StepError, LookupError) as exc:
        problems.append(f"data: {exc}")
    result["problems"] = problems
    if problems:
        alert_raise(source="workflow", metric="market_open_check", message="; ".join(problems), data=result)
    return result


def fills_confirm(*, broker) -> int:
    """Advance a simulated exchange one last time and deliver its pending trade updates."""
    from orders.fills import updates_pump

    if hasattr(broker, "tick"):
        broker.tick()
    return updates_pump(broker=broker)


def day_orders_cancel(*, reason: str = "market close: leftover day order") -> int:
    """Cancel every open day order (they would expire anyway); returns how many were canceled."""
    from orders.gateway import OrderNotCancelable, order_cancel
    from orders.models import OPEN_STATUSES, Order, OrderStatus

    canceled = 0
    for pk in Order.objects.filter(status__in=OPEN_STATUSES, time_in_force="day").order_by("pk").values_list("pk", flat=True):
        try:
            result = order_cancel(order=pk, reason=reason)
        except OrderNotCancelable:
            continue
        canceled += result.status == OrderStatus.CANCELED
    from orders.slicing import parents_finalize

    parents_finalize(now=clock.now())
    return canceled


def market_close_run(*, day: dt.date | None = None, broker=None) -> DailyPerformance:
    """After the close: confirm fills, cancel leftover day orders, snapshot the account, store the report."""
    from orders.brokers import get_broker
    from orders.models import Order, Position
    from orders.reconcile import account_snapshot_record
    from strategies.performance import daily_report_record

    day = day or clock.today_ny()
    broker = broker or get_broker()
    fills_confirm(broker=broker)
    canceled = day_orders_cancel()
    snapshot = account_snapshot_record(broker=broker)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=clock.NEW_YORK)
    filled = Order.objects.filter(filled_at__gte=start, filled_at__lt=start + dt.timedelta(days=1)).count()
    return daily_report_record(
        day=day, equity=snapshot.equity, cash=snapshot.cash,
        positions=Position.objects.exclude(qty=0).count(), orders_filled=filled, orders_canceled=canceled,
    )
