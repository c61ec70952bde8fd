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
- sizing (:func:`sizing_within_phase`): while a rollout phase is enforced, targets outside its
  allow-list are dropped and the equity the weights apply to is capped so the targets' gross stays
  within the phase's capital cap — the gateway's rollout check then passes them instead of
  refusing each order whole;
- submission (:func:`planned_submit`): an order that would exceed the per-minute order or
  broker-request limit waits for the next minute (deferred, not rejected); a transient broker error
  (429, outage) is retried with exponential back-off, and when the retries run out the step fails
  (alert ``rebalance_failed``). Re-running the day re-plans from positions and open orders, so it
  submits only what is missing: an attempt that ended without an order at the broker (rate-limited,
  failed, refused for the rate) is retried under the next deterministic id of the same run/symbol/
  side (:func:`run_order_id`), an order still working is returned, never doubled;
- :func:`order_route` sends orders above ``REBALANCE_TWAP_NOTIONAL`` as a TWAP parent
  (``orders.slicing.twap_order_place``, ``REBALANCE_TWAP_SLICES`` slices ending a minute before the
  close), the others as one gateway order.

Replay (``workflow.replay``) calls the same :func:`rebalance_chain` with a :class:`ChainInputs`
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

from django.db import IntegrityError, transaction
from django.db.models import Max

from marketdata import market_clock
from marketdata.models import Asset, Bar
from marketdata.providers import market_data_refresh
from orders.book import book_active, persist
from orders.brokers import get_broker
from orders.brokers.base import Broker, BrokerRejected, BrokerUnavailable, RateLimited
from orders.fills import updates_pump
from orders.gateway import OrderNotCancelable, PlaceResult, client_order_id_for, order_cancel, order_place
from orders.models import OPEN_STATUSES, Order, OrderStatus, Position
from orders.pretrade import PreTradeRejection
from orders.reconcile import account_snapshot_record
from orders.selectors import last_price
from orders.slicing import parents_finalize, twap_order_place
from risk.selectors import breaker_open, kill_switch_engaged, order_rate_full, rollout_phase_enforced
from strategies import conf as strategy_conf
from strategies.allocation import METHODS, AllocationResult
from strategies.models import Strategy
from strategies.services import SignalSet, allocator_from_settings, signals_compute, signals_record
from trading_site.alerts import alert_raise
from trading_site.lib import clock
from trading_site.lib.errors import DomainError
from workflow import conf
from workflow.models import DailyPerformance, RebalanceRun, RebalanceStep, RunStatus
from workflow.performance import daily_report_record

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


def client_order_id_for_run(*, run: RebalanceRun, symbol: str, side: str, attempt: int = 0) -> str:
    """Deterministic per run day, mode, symbol, side (and retry attempt): a retried day never doubles an order."""

    key = f"rebalance|{run.mode}|{run.day.isoformat()}|{symbol}|{side}"
    return client_order_id_for(source=ORDER_SOURCE, key=key if attempt == 0 else f"{key}|{attempt}")


MAX_ATTEMPT_IDS = 50
_NOTHING_PLACED = {"rejected", "failed", "canceled", "expired"}


def run_order_id(*, run: RebalanceRun, planned: PlannedOrder) -> str:
    """The id this planned order goes out under: the first of the run/symbol/side's deterministic ids
    that is free, or taken by the same request still working (the gateway then returns that order).

    An id whose order is final (filled: the plan already counts it in the position; refused, failed,
    canceled: nothing of it is working) or working with another quantity (the plan counts its
    remainder as pending, so this order is additional) is passed over."""

    for attempt in range(MAX_ATTEMPT_IDS):
        cid = client_order_id_for_run(run=run, symbol=planned.symbol, side=planned.side, attempt=attempt)
        book = book_active()
        if book is not None:  # a replay's ledger in memory (orders.book)
            order = book.orders.get(cid)
            row = None if order is None else {"status": order.status, "qty": order.qty, "symbol": order.symbol,
                                              "side": order.side}
        else:
            row = Order.objects.filter(client_order_id=cid).values("status", "qty", "symbol", "side").first()
        if row is None:
            return cid
        working = row["status"] not in _NOTHING_PLACED and row["status"] != "filled"
        if working and (row["qty"], row["symbol"], row["side"]) == (planned.qty, planned.symbol, planned.side):
            return cid
    raise StepError(f"{planned.symbol} {planned.side}: more than {MAX_ATTEMPT_IDS} attempts today")


# --- sizing to the rollout phase (pure) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhaseBounds:
    number: int
    capital_cap: Decimal
    symbols: tuple[str, ...]  # empty: the full universe


def sizing_within_phase(
    *, weights: dict[str, float], equity: Decimal, phase: PhaseBounds | None
) -> tuple[dict[str, float], Decimal]:
    """(weights, equity to size them on) within a rollout phase: symbols outside its allow-list get
    no target; the equity is capped at ``capital_cap / Σ weights`` so Σ target notionals ≤ cap
    (targets round down, so each stays under its weight × sizing equity)."""
    if phase is None:
        return weights, equity
    if phase.symbols:
        weights = {s: w for s, w in weights.items() if s in phase.symbols}
    total = sum((Decimal(repr(float(w))) for w in weights.values()), Decimal(0))
    if total <= 0:
        return weights, equity
    cap_equity = (phase.capital_cap / total).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return weights, min(equity, cap_equity)


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
    """Where a run gets its data. Live: :func:`live_inputs`; replay: ``workflow.replay``."""

    check_data: Callable[[dt.date], dict]
    signals: Callable[[dt.date], SignalSet]
    record_signals: Callable[[dt.date, str], int]
    caps: Callable[[], dict[str, float]]
    ledger: Callable[[list[str]], tuple[Decimal, dict[str, Decimal], dict[str, Decimal], dict[str, Decimal]]]
    fractionable: Callable[[], frozenset[str]]
    risk_blocked: Callable[[], str] = lambda: _risk_blocked_live()
    phase: Callable[[], PhaseBounds | None] = lambda: _phase_live()
    rate_full: Callable[[], bool] = lambda: _rate_full_live()
    sleep: Callable[[float], None] = time.sleep
    alert_correlation: bool = True
    on_submitted: Callable[[list], None] | None = None
    # Replay has already blended the day's signals (to decide whether the day trades): it hands that
    # result over instead of computing the same allocation a second time.
    allocation: AllocationResult | None = None


def _data_check_live(day: dt.date) -> dict:
    symbols = sorted(
        {s for s in Strategy.objects.filter(enabled=True, symbols__enabled=True)
         .values_list("symbols__asset__symbol", flat=True) if s}
    )
    if not symbols:
        raise StepError("no enabled strategy has an enabled symbol")
    refreshed = market_data_refresh(end=day, symbols=symbols)
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
    return {"symbols": len(symbols), "oldest_allowed": oldest_allowed.isoformat(), **refreshed}


def _risk_blocked_live() -> str:
    if kill_switch_engaged():
        return "the kill switch is engaged: no rebalance orders"
    if breaker_open():
        return "a circuit breaker is open: no rebalance orders"
    return ""


def _phase_live() -> PhaseBounds | None:
    phase = rollout_phase_enforced()
    return None if phase is None else PhaseBounds(phase.number, phase.capital_cap, phase.symbols)


def _rate_full_live() -> bool:
    return order_rate_full()


def _record_signals_live(day: dt.date, run_id: str) -> int:
    return signals_record(as_of=day, run_id=run_id).count


def _caps_live() -> dict[str, float]:
    return {name: float(cap) for name, cap in Strategy.objects.values_list("name", "capital_cap")}


def _ledger_live(symbols: list[str]):
    from django.db.models import Sum
    from django.db.models.functions import Coalesce

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


def order_route(*, planned: PlannedOrder, client_order_id: str, strategy: str, reason: str) -> PlaceResult:
    """Submit one planned order: a TWAP parent above ``REBALANCE_TWAP_NOTIONAL`` (0 = never), else one
    gateway order. Both are idempotent by the deterministic ``client_order_id``."""

    threshold = conf.REBALANCE_TWAP_NOTIONAL
    if threshold > 0 and planned.notional > threshold:
        slices, horizon = twap_slices()
        return twap_order_place(
            symbol=planned.symbol, side=planned.side, qty=planned.qty, slices=slices, horizon_minutes=horizon,
            actor=None, source=ORDER_SOURCE, reason=reason, strategy=strategy, clip_to_close=True,
            client_order_id=client_order_id,
        ).order
    return order_place(
        symbol=planned.symbol,
        side=planned.side,
        qty=planned.qty,
        source=ORDER_SOURCE,
        strategy=strategy,
        reason=reason,
        client_order_id=client_order_id,
    ).order


RATE_CODES = frozenset({"ORDER_RATE", "BROKER_RATE"})


def _next_minute_wait() -> float:
    now = clock.now()
    return max(60.0 - now.second - now.microsecond / 1e6, 1.0)


def planned_submit(*, run: RebalanceRun, planned: PlannedOrder, inputs: ChainInputs) -> PlaceResult:
    """Submit one planned order: wait for room in the per-minute limits (deferred to the next
    minute, never refused for the rate), retry transient broker errors with exponential back-off;
    raise :class:`StepError` when the retries run out. Definite refusals are re-raised."""

    reason = f"rebalance {run.day.isoformat()}"
    waits = failures = 0
    while True:
        if inputs.rate_full():
            waits += 1
            if waits > conf.REBALANCE_RATE_WAIT_MINUTES:
                raise StepError(f"{planned.symbol}: the order-rate limit stayed full for "
                                f"{conf.REBALANCE_RATE_WAIT_MINUTES} minutes")
            inputs.sleep(_next_minute_wait())
            continue
        cid = run_order_id(run=run, planned=planned)
        try:
            return order_route(planned=planned, client_order_id=cid, strategy="rebalance", reason=reason)
        except PreTradeRejection as exc:
            if exc.code not in RATE_CODES:
                raise
            # Another caller took the last room between our look and the gateway's count: this id is
            # now a refused order; the next attempt goes out under the next id after the wait.
            waits += 1
            if waits > conf.REBALANCE_RATE_WAIT_MINUTES:
                raise StepError(f"{planned.symbol}: refused for the order rate {waits} times") from exc
            inputs.sleep(_next_minute_wait())
        except (RateLimited, BrokerUnavailable) as exc:
            failures += 1
            if failures > conf.REBALANCE_SUBMIT_RETRIES:
                raise StepError(f"gave up on {planned.side} {planned.qty} {planned.symbol} after {failures} "
                                f"attempts: {exc.detail}") from exc
            backoff = conf.REBALANCE_RETRY_BACKOFF_SECONDS * 2 ** (failures - 1)
            logger.warning("rebalance %s: %s %s failed (%s); retry %d in %.1fs", run.day, planned.side,
                           planned.symbol, exc.detail, failures, backoff)
            inputs.sleep(backoff)


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
    if book_active() is not None:  # a replay: its own store, one run a day, kept in its book
        return persist(RebalanceRun(day=day, mode=mode, method=method, started_at=now)), True
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
        persist(RebalanceStep(
            run=run, name=name, position=STEPS.index(name), status=RunStatus.FAILED, started_at=started,
            finished_at=clock.now(), duration_ms=(time.perf_counter() - t0) * 1000, error=message[:2000],
        ))
        raise StepError(message) from exc
    persist(RebalanceStep(
        run=run, name=name, position=STEPS.index(name), status=RunStatus.COMPLETED, started_at=started,
        finished_at=clock.now(), duration_ms=(time.perf_counter() - t0) * 1000, count=count, detail=detail,
    ))


def _run_update(run: RebalanceRun, **fields) -> None:
    """Set fields of the run row (live: one UPDATE; a replay: on the instance its book keeps)."""
    if book_active() is not None:
        for name, value in fields.items():
            setattr(run, name, value)
        return
    RebalanceRun.objects.filter(pk=run.pk).update(**fields)


def _failed_step(run: RebalanceRun) -> str:
    book = book_active()
    if book is not None:
        return next((s.name for s in book.of(RebalanceStep) if s.run_id == run.pk and s.status == RunStatus.FAILED), "")
    return run.steps.filter(status=RunStatus.FAILED).values_list("name", flat=True).first() or ""


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
        phase = inputs.phase()
        weights, sizing = sizing_within_phase(weights=state.weights, equity=equity, phase=phase)
        missing = sorted(s for s in weights if s not in prices)
        if missing:
            raise StepError(f"no price for {', '.join(missing)}")
        state.equity = equity
        state.planned = orders_plan(
            targets=weights, equity=sizing, prices=prices, positions=positions, pending=pending,
            fractionable=inputs.fractionable(), min_notional=min_trade_notional(equity=sizing),
        )
        detail = {"equity": str(equity), "orders": [o.as_dict() for o in state.planned]}
        if phase is not None:
            detail["rollout"] = {"phase": phase.number, "capital_cap": str(phase.capital_cap),
                                 "sizing_equity": str(sizing), "excluded": sorted(set(state.weights) - set(weights))}
        return len(state.planned), detail

    def submit():
        for planned in state.planned:
            try:
                order = planned_submit(run=run, planned=planned, inputs=inputs)
            except (PreTradeRejection, BrokerRejected) as exc:
                # A definite "no" for this order only: recorded (the ledger keeps it as rejected) and
                # alerted; the other orders still go. Retries exhausted fail the step (StepError).
                state.rejected.append({"symbol": planned.symbol, "side": planned.side, "code": exc.code})
                continue
            state.submitted.append(order)
        if inputs.on_submitted is not None:
            inputs.on_submitted(state.submitted)
        return len(state.submitted), {"rejected": state.rejected}

    def record():
        _run_update(
            run, orders_planned=len(state.planned), orders_submitted=len(state.submitted),
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
    method = method or strategy_conf.ALLOCATION_METHOD
    if method not in METHODS:
        raise DomainError(f"unknown allocation method {method!r}", code="validation_error")
    gross_value = float(strategy_conf.ALLOCATION_GROSS if gross is None else gross)
    run, execute = _run_claim(day=day, mode=mode, method=method)
    if not execute:
        return run
    state = ChainState(day=day, method=method, gross=gross_value)
    try:
        rebalance_chain(run=run, inputs=inputs or live_inputs(), state=state)
    except StepError as exc:
        failed = _failed_step(run)
        _run_update(
            run, status=RunStatus.FAILED, finished_at=clock.now(), failed_step=failed, error=str(exc)[:2000],
            orders_planned=len(state.planned), orders_submitted=len(state.submitted),
            orders_rejected=len(state.rejected),
        )
        alert_raise(
            source="rebalance", metric="rebalance_failed",
            message=f"rebalance {day.isoformat()} failed at step {failed}: {exc}",
            data={"run_id": run.pk, "day": day.isoformat(), "step": failed},
        )
    else:
        _run_update(run, status=RunStatus.COMPLETED, finished_at=clock.now())
        if state.rejected:
            alert_raise(
                source="rebalance", metric="rebalance_rejected",
                message=f"rebalance {day.isoformat()}: {len(state.rejected)} order(s) rejected by pre-trade checks",
                data={"run_id": run.pk, "rejected": state.rejected},
            )
    if book_active() is None:
        run.refresh_from_db()
    run.planned = state.planned  # for callers (replay parity, the command's summary)
    return run


# --- market open and market close -------------------------------------------------------------------


def market_open_check() -> dict:
    """09:30: database, broker connection and account, data freshness. Problems raise an alert."""

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


def fills_confirm(*, broker: Broker) -> int:
    """Advance a simulated exchange one last time and deliver its pending trade updates."""

    if hasattr(broker, "tick"):
        broker.tick()
    return updates_pump(broker=broker)


def day_orders_cancel(*, reason: str = "market close: leftover day order") -> int:
    """Cancel every open day order (they would expire anyway); returns how many were canceled."""

    canceled = 0
    book = book_active()
    if book is not None:  # a replay's ledger in memory (orders.book)
        ids = [o.pk for o in book.orders_working() if o.status in OPEN_STATUSES and o.time_in_force == "day"]
    else:
        ids = Order.objects.filter(status__in=OPEN_STATUSES, time_in_force="day").order_by("pk").values_list("pk", flat=True)
    for pk in ids:
        try:
            result = order_cancel(order=pk, reason=reason)
        except OrderNotCancelable:
            continue
        canceled += result.status == OrderStatus.CANCELED

    parents_finalize(now=clock.now())
    return canceled


def market_close_run(*, day: dt.date | None = None, broker: Broker | None = None) -> DailyPerformance:
    """After the close: confirm fills, cancel leftover day orders, snapshot the account, store the report."""

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
