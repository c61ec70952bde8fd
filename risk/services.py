"""Writes of the risk app: kill switch, circuit breakers, limits, rollout phase, stop overrides.

Every service takes the acting user (``None`` for the system), records a :class:`RiskEvent` and an
audit action in the same transaction, invalidates the cached risk state after commit, and raises an
Alert for trips, resets and the kill switch.

The kill switch is latched in its own transaction first (from that commit on every new order is
refused), then unwound outside it: open orders (scheduled TWAP slices included) are cancelled and
positions flattened through the orders services, which call the broker, so never inside a database
transaction. A failed unwind step is recorded and alerted; the switch stays engaged.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from marketdata import market_clock
from marketdata.models import Bar
from marketdata.selectors import asset_get
from orders.models import OrderEvent
from risk import conf, limiter, orders_port
from risk.checks import BROKER_RATE_KEY
from risk.models import (
    CircuitBreaker,
    EquityWatermark,
    KillSwitch,
    KillSwitchEvent,
    PositionRisk,
    RiskEvent,
    RiskLimits,
    RolloutPhase,
)
from risk.state import limits_row, risk_state, state_invalidate
from trading_site.alerts import alert_raise
from trading_site.audit import action_record
from trading_site.lib import broker_budget, clock
from trading_site.lib.actors import Actor
from trading_site.lib.errors import DomainError
from trading_site.lib.roles import ADMIN, OPERATOR, has_role
from trading_site.models import Alert

logger = logging.getLogger(__name__)


class RiskPermissionDenied(DomainError):
    code = "permission_denied"
    kind = "refused"


class RiskInputError(DomainError):
    code = "validation_error"
    kind = "invalid"


class RiskStateError(DomainError):
    code = "conflict"
    kind = "conflict"


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise RiskInputError("A reason is required.", fields={"reason": ["This field is required."]})
    return reason


def _require_role(actor, role: str, what: str) -> None:
    """``actor=None`` is the system (a management command run by someone with shell access)."""
    if actor is not None and not has_role(actor, role):
        raise RiskPermissionDenied(f"{what} needs the {role} role.")


def _actor_or_none(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _event(*, kind: str, actor, subject: str = "", reason: str = "", data: dict | None = None, now=None) -> RiskEvent:
    return RiskEvent.objects.create(
        created_at=now or clock.now(), kind=kind, subject=subject, actor=_actor_or_none(actor), reason=reason,
        data=data or {},
    )


# --- kill switch ----------------------------------------------------------------------------------


@dataclass
class KillSwitchResult:
    engaged: bool
    changed: bool
    cancelled: int = 0
    flatten_orders: int = 0
    errors: list[str] = field(default_factory=list)


def _kill_switch_row() -> KillSwitch:
    KillSwitch.objects.get_or_create(pk=1)
    return KillSwitch.objects.select_for_update().get(pk=1)


def _kill_switch_write(row: KillSwitch, *, engaged: bool, actor, reason: str, now: dt.datetime,
                       data: dict | None = None) -> None:
    """Store the durable state on the locked row and its history entry."""
    row.engaged = engaged
    row.changed_at, row.changed_by, row.reason = now, _actor_or_none(actor), reason
    row.save()
    action = KillSwitchEvent.Action.ENGAGE if engaged else KillSwitchEvent.Action.RESET
    KillSwitchEvent.objects.create(created_at=now, action=action, actor=_actor_or_none(actor), reason=reason,
                                   data=data or {})


@transaction.atomic
def kill_switch_latch(*, actor: Actor, reason: str) -> bool:
    """Engage the durable state. Returns False if it was already engaged (the reason is still logged)."""
    reason = _require_reason(reason)
    _require_role(actor, OPERATOR, "Engaging the kill switch")
    now = clock.now()
    row = _kill_switch_row()
    changed = not row.engaged
    _kill_switch_write(row, engaged=True, actor=actor, reason=reason, now=now, data={"already_engaged": not changed})
    _event(kind=RiskEvent.Kind.KILL_SWITCH_ENGAGE, actor=actor, subject="kill_switch", reason=reason, now=now)
    action_record(actor=actor, action="kill_switch.engage", target=row, reason=reason, data={"changed": changed})
    alert_raise(
        source="risk", metric="kill_switch", severity=Alert.Severity.CRITICAL,
        message=f"Kill switch engaged: {reason}", data={"changed": changed},
    )
    state_invalidate()
    return changed


def kill_switch_unwind(*, actor: Actor, reason: str, flatten: bool) -> KillSwitchResult:
    """Cancel every open order (scheduled slices included) and, if ``flatten``, flatten positions."""

    result = KillSwitchResult(engaged=True, changed=False)
    try:
        result.cancelled = int(orders_port.orders_cancel_all(actor=actor, reason=f"kill switch: {reason}"))
    except Exception as exc:  # the switch stays latched; a person must see this
        logger.exception("kill switch: cancelling open orders failed")
        result.errors.append(f"cancel_all: {type(exc).__name__}: {exc}")
    if flatten:
        try:
            result.flatten_orders = len(orders_port.positions_flatten_all(actor=actor, reason=f"kill switch: {reason}"))
        except Exception as exc:
            logger.exception("kill switch: flattening positions failed")
            result.errors.append(f"flatten_all: {type(exc).__name__}: {exc}")
    with transaction.atomic():
        data = {"cancelled": result.cancelled, "flatten_orders": result.flatten_orders, "flatten": flatten}
        if result.errors:
            _event(kind=RiskEvent.Kind.UNWIND_FAILED, actor=actor, subject="kill_switch", reason=reason,
                   data=data | {"errors": result.errors})
            alert_raise(
                source="risk", metric="kill_switch_unwind", severity=Alert.Severity.CRITICAL,
                message="Kill switch engaged but the unwind failed: " + "; ".join(result.errors),
                data={"errors": result.errors},
            )
        else:
            _event(kind=RiskEvent.Kind.KILL_SWITCH_UNWIND, actor=actor, subject="kill_switch", reason=reason, data=data)
    return result


def kill_switch_engage(*, actor: Actor, reason: str, flatten: bool | None = None) -> KillSwitchResult:
    """Latch the switch, then cancel open orders and flatten positions (the ``kill_switch_flatten`` limit)."""
    changed = kill_switch_latch(actor=actor, reason=reason)
    if flatten is None:
        flatten = limits_row().kill_switch_flatten
    result = kill_switch_unwind(actor=actor, reason=reason.strip(), flatten=flatten)
    result.changed = changed
    return result


@transaction.atomic
def kill_switch_reset(*, actor: Actor, reason: str) -> KillSwitchResult:
    reason = _require_reason(reason)
    _require_role(actor, ADMIN, "Resetting the kill switch")
    now = clock.now()
    row = _kill_switch_row()
    if not row.engaged:
        raise RiskStateError("The kill switch is not engaged.")
    _kill_switch_write(row, engaged=False, actor=actor, reason=reason, now=now)
    _event(kind=RiskEvent.Kind.KILL_SWITCH_RESET, actor=actor, subject="kill_switch", reason=reason, now=now)
    action_record(actor=actor, action="kill_switch.reset", target=row, reason=reason)
    alert_raise(source="risk", metric="kill_switch", severity=Alert.Severity.WARNING,
                message=f"Kill switch reset: {reason}")
    state_invalidate()
    return KillSwitchResult(engaged=False, changed=True)


# --- circuit breakers -----------------------------------------------------------------------------


def _breaker_row(name: str) -> CircuitBreaker:
    if name not in CircuitBreaker.Name.values:
        raise RiskInputError(f"Unknown circuit breaker {name!r}.", fields={"name": [f"one of {CircuitBreaker.Name.values}"]})
    CircuitBreaker.objects.get_or_create(name=name)
    return CircuitBreaker.objects.select_for_update().get(name=name)


@transaction.atomic
def breaker_trip(*, name: str, reason: str, data: dict | None = None, now: dt.datetime | None = None) -> bool:
    """Open (latch) a breaker. Returns False when it was already open (nothing recorded)."""
    now = now or clock.now()
    row = _breaker_row(name)
    if row.state == CircuitBreaker.State.OPEN:
        return False
    row.state = CircuitBreaker.State.OPEN
    row.tripped_at, row.trip_reason, row.data = now, reason, data or {}
    row.trip_session = market_clock.current_or_previous_session(now)
    row.save()
    _event(kind=RiskEvent.Kind.BREAKER_TRIP, actor=None, subject=name, reason=reason, data=data, now=now)
    action_record(actor=None, action="circuit_breaker.trip", target=row, reason=reason, data=data or {})
    alert_raise(source="risk", metric=f"breaker_{name}", severity=Alert.Severity.CRITICAL,
                message=f"Circuit breaker {name} tripped: {reason}", data=data or {})
    state_invalidate()
    return True


@transaction.atomic
def breaker_reset(*, actor: Actor, name: str, reason: str, now: dt.datetime | None = None) -> None:
    """A person (admin) closes a tripped breaker; ``actor=None`` only for the configured daily auto-reset."""
    reason = _require_reason(reason)
    _require_role(actor, ADMIN, "Resetting a circuit breaker")
    now = now or clock.now()
    row = _breaker_row(name)
    if row.state != CircuitBreaker.State.OPEN:
        raise RiskStateError(f"Circuit breaker {name} is not tripped.")
    row.state = CircuitBreaker.State.CLOSED
    row.reset_at, row.reset_by, row.reset_reason = now, _actor_or_none(actor), reason
    row.save()
    data = _watermark_rebase(name=name)
    _event(kind=RiskEvent.Kind.BREAKER_RESET, actor=actor, subject=name, reason=reason, now=now, data=data)
    action_record(actor=actor, action="circuit_breaker.reset", target=row, reason=reason)
    alert_raise(source="risk", metric=f"breaker_{name}", severity=Alert.Severity.WARNING,
                message=f"Circuit breaker {name} reset: {reason}")
    state_invalidate()
    if name == CircuitBreaker.Name.BROKER_ERRORS:
        transaction.on_commit(lambda: limiter.clear(name=BROKER_ERRORS_KEY))


def _watermark_rebase(*, name: str) -> dict:
    """Resetting a loss breaker accepts the loss so far: measure from the current equity again.

    Without this the next poll would trip the breaker again at once (equity is still below the
    threshold). Daily loss: the session's start equity becomes the last equity; drawdown: the peak.
    """
    mark = EquityWatermark.objects.select_for_update().filter(pk=1).first()
    if mark is None or name not in (CircuitBreaker.Name.DAILY_LOSS, CircuitBreaker.Name.DRAWDOWN):
        return {}
    field_name = "start_of_day_equity" if name == CircuitBreaker.Name.DAILY_LOSS else "peak_equity"
    old = getattr(mark, field_name)
    setattr(mark, field_name, mark.last_equity)
    mark.save(update_fields=[field_name])
    return {"rebased": field_name, "old": str(old), "new": str(mark.last_equity)}


@dataclass(frozen=True, slots=True)
class LossCheck:
    daily_loss_pct: Decimal  # negative when losing
    drawdown_pct: Decimal
    daily_tripped: bool
    drawdown_tripped: bool


def loss_check(*, equity: Decimal, start_of_day: Decimal, peak: Decimal, daily_limit: Decimal,
               drawdown_limit: Decimal) -> LossCheck:
    """Pure breaker arithmetic: trips at exactly the limit (equity <= start x (1 - limit))."""
    daily = (equity - start_of_day) / start_of_day
    drawdown = (equity - peak) / peak
    return LossCheck(
        daily_loss_pct=daily,
        drawdown_pct=drawdown,
        daily_tripped=equity <= start_of_day * (1 - daily_limit),
        drawdown_tripped=equity <= peak * (1 - drawdown_limit),
    )


@transaction.atomic
def equity_observe(*, equity: Decimal, now: dt.datetime | None = None) -> LossCheck:
    """Record an equity observation, roll the session, update the peak, trip the loss breakers.

    The first observation of a new session sets that session's start-of-day equity. With
    ``daily_loss_auto_reset`` a daily-loss trip from an earlier session is closed at the new session.
    """
    now = now or clock.now()
    session = market_clock.current_or_previous_session(now)
    limits = limits_row()
    mark = EquityWatermark.objects.select_for_update().filter(pk=1).first()
    if mark is None:
        mark = EquityWatermark(pk=1, session=session, start_of_day_equity=equity, peak_equity=equity,
                               last_equity=equity, updated_at=now)
    elif mark.session != session:
        mark.session, mark.start_of_day_equity = session, equity
        if limits.daily_loss_auto_reset:
            _daily_auto_reset(session=session, now=now)
    mark.peak_equity = max(mark.peak_equity, equity)
    mark.last_equity, mark.updated_at = equity, now
    mark.save()
    result = loss_check(equity=equity, start_of_day=mark.start_of_day_equity, peak=mark.peak_equity,
                        daily_limit=limits.daily_loss_pct, drawdown_limit=limits.max_drawdown_pct)
    data = {"equity": str(equity), "start_of_day": str(mark.start_of_day_equity), "peak": str(mark.peak_equity)}
    if result.daily_tripped:
        breaker_trip(name=CircuitBreaker.Name.DAILY_LOSS, now=now, data=data | {"loss_pct": str(result.daily_loss_pct)},
                     reason=f"Equity {equity} is {result.daily_loss_pct:.2%} from the session start "
                            f"{mark.start_of_day_equity} (limit {limits.daily_loss_pct:.2%}).")
    if result.drawdown_tripped:
        breaker_trip(name=CircuitBreaker.Name.DRAWDOWN, now=now, data=data | {"drawdown_pct": str(result.drawdown_pct)},
                     reason=f"Equity {equity} is {result.drawdown_pct:.2%} from the peak {mark.peak_equity} "
                            f"(limit {limits.max_drawdown_pct:.2%}).")
    return result


def _daily_auto_reset(*, session: dt.date, now: dt.datetime) -> None:
    row = CircuitBreaker.objects.filter(name=CircuitBreaker.Name.DAILY_LOSS, state=CircuitBreaker.State.OPEN).first()
    if row is not None and row.trip_session is not None and row.trip_session < session:
        breaker_reset(actor=None, name=CircuitBreaker.Name.DAILY_LOSS, now=now,
                      reason=f"automatic reset at the start of session {session}")


BROKER_ERRORS_KEY = "broker_errors"


def broker_error_record(*, detail: str, now: dt.datetime | None = None) -> bool:
    """The orders app reports each broker error; a burst trips the ``broker_errors`` breaker.

    Returns True when this error tripped the breaker.
    """
    now = now or clock.now()
    hit = limiter.hit(name=BROKER_ERRORS_KEY, now=now, window=conf.BROKER_ERROR_WINDOW_SECONDS, limit=-1)
    if hit.count >= conf.BROKER_ERROR_BURST:
        return breaker_trip(
            name=CircuitBreaker.Name.BROKER_ERRORS, now=now, data={"errors": hit.count, "last": detail[:500]},
            reason=f"{hit.count} broker errors within {conf.BROKER_ERROR_WINDOW_SECONDS:g} s (last: {detail[:200]}).",
        )
    return False


BROKER_ERROR_EVENT_KINDS = ("submit_unknown", "rate_limited")  # timeouts/5xx/connection errors, HTTP 429


def broker_errors_scan(*, now: dt.datetime | None = None) -> bool:
    """The poll's view of broker errors: the gateway's order events of failed broker calls.

    Reads ``orders.OrderEvent`` (the gateway records every submit whose outcome is unknown and every
    429), so the burst breaker works without the broker adapters calling risk. Returns True on a trip.
    """

    now = now or clock.now()
    since = now - dt.timedelta(seconds=conf.BROKER_ERROR_WINDOW_SECONDS)
    errors = OrderEvent.objects.filter(kind__in=BROKER_ERROR_EVENT_KINDS, created_at__gt=since,
                                       created_at__lte=now).count()
    if errors >= conf.BROKER_ERROR_BURST:
        return breaker_trip(
            name=CircuitBreaker.Name.BROKER_ERRORS, now=now, data={"errors": errors},
            reason=f"{errors} failed broker calls within {conf.BROKER_ERROR_WINDOW_SECONDS:g} s.",
        )
    return False


BROKER_READS_PAUSE_KEY = "broker_reads_paused"


def broker_read_ceiling(*, limit: int, orders_per_minute: int) -> int:
    """How many of the window's ``limit`` broker requests reads (lookups, polls, account...) may use.

    The rest is kept for submissions and cancels: as many as the order-rate limit allows, but never
    more than half the budget — with the defaults (200 requests, 60 orders a minute) reads get 140.
    """
    return max(limit - min(orders_per_minute, limit // 2), 1)


def broker_request_take(*, kind: str, now: dt.datetime | None = None) -> None:
    """Take one broker REST request from the deployment's shared budget (every process counts here).

    Registered with ``trading_site.lib.broker_budget``: the Alpaca adapter calls it before every HTTP
    request. Submissions and cancels may use the whole ``broker_requests_per_minute`` window; reads
    only up to :func:`broker_read_ceiling`, and none while a 429 back-off is in force
    (:func:`broker_rate_limited_record`). Raises ``BudgetExhausted`` (nothing is sent).
    """

    now = now or clock.now()
    limits = risk_state().limits
    limit = limits.broker_requests_per_minute
    if kind == broker_budget.READ:
        if limiter.paused(name=BROKER_READS_PAUSE_KEY, now=now):
            raise broker_budget.BudgetExhausted(kind, "broker reads paused after a 429 from the broker")
        limit = broker_read_ceiling(limit=limit, orders_per_minute=limits.orders_per_minute)
    hit = limiter.hit(name=BROKER_RATE_KEY, now=now, window=conf.RATE_WINDOW_SECONDS, limit=limit)
    if not hit.allowed:
        raise broker_budget.BudgetExhausted(
            kind, f"broker request budget used up ({limit} {kind} requests in {conf.RATE_WINDOW_SECONDS:g} s)"
        )


def broker_rate_limited_record(detail: str, retry_after: float | None, *, now: dt.datetime | None = None) -> None:
    """The broker answered 429: pause reads (``Retry-After``, at least ``RISK_BROKER_429_PAUSE_SECONDS``)
    and count it toward the ``broker_errors`` burst breaker."""
    now = now or clock.now()
    pause = max(retry_after or 0.0, conf.BROKER_429_PAUSE_SECONDS)
    limiter.pause(name=BROKER_READS_PAUSE_KEY, now=now, seconds=pause)
    broker_error_record(detail=detail, now=now)


def stale_data_check(*, now: dt.datetime | None = None) -> bool:
    """During a session, trip ``stale_data`` when the newest daily bar lags by more than the allowed sessions."""
    from django.db.models import Max

    now = now or clock.now()
    if not market_clock.is_open(now):
        return False
    allowed = limits_row().stale_data_sessions
    today = market_clock.current_or_previous_session(now)
    window = market_clock.sessions_window(ending=today, count=allowed + 1)
    oldest_ok = window[0]
    latest = Bar.objects.aggregate(latest=Max("session"))["latest"]
    if latest is None or latest < oldest_ok:
        return breaker_trip(
            name=CircuitBreaker.Name.STALE_DATA, now=now,
            data={"latest_bar": latest.isoformat() if latest else None, "oldest_allowed": oldest_ok.isoformat()},
            reason=f"Newest daily bar is {latest or 'missing'}; {oldest_ok} or later is required.",
        )
    return False


# --- configuration --------------------------------------------------------------------------------

LIMIT_FIELDS = (
    "max_order_notional", "max_position_notional", "max_gross_exposure", "price_band_pct", "orders_per_minute",
    "broker_requests_per_minute", "daily_loss_pct", "max_drawdown_pct", "daily_loss_auto_reset",
    "stale_data_sessions", "stop_loss_pct", "take_profit_pct", "trailing_stop_pct", "allow_extended_hours",
    "kill_switch_flatten", "pdt_rule_enabled", "pdt_equity_threshold", "symbol_denylist", "rollout_on_paper",
)


@transaction.atomic
def limits_update(*, actor: Actor, reason: str, changes: dict) -> dict:
    """Change risk limits (admin, with a reason). ``changes`` holds validated values. Returns the diff."""
    reason = _require_reason(reason)
    _require_role(actor, ADMIN, "Changing risk limits")
    unknown = sorted(set(changes) - set(LIMIT_FIELDS))
    if unknown:
        raise RiskInputError(f"Unknown limit(s): {', '.join(unknown)}.")
    limits_row()
    row = RiskLimits.objects.select_for_update().get(pk=1)
    diff = {}
    for name, value in changes.items():
        if name == "symbol_denylist":
            value = sorted({str(s).strip().upper() for s in value if str(s).strip()})
        old = getattr(row, name)
        if old != value:
            diff[name] = {"old": str(old) if old is not None else None, "new": str(value) if value is not None else None}
            setattr(row, name, value)
    if not diff:
        return {}
    row.updated_at, row.updated_by, row.reason = clock.now(), _actor_or_none(actor), reason
    row.full_clean()
    row.save()
    _event(kind=RiskEvent.Kind.LIMITS_CHANGE, actor=actor, subject="limits", reason=reason, data=diff)
    action_record(actor=actor, action="risk_limits.update", target=row, reason=reason, data=diff)
    state_invalidate()
    return diff


@transaction.atomic
def rollout_phase_set(*, actor: Actor, phase: int | None, reason: str, on_paper: bool | None = None) -> None:
    """Move the graduated rollout to ``phase`` (1-4, or None for no phase). Admin, with a reason."""
    reason = _require_reason(reason)
    _require_role(actor, ADMIN, "Changing the rollout phase")
    if phase is not None and not RolloutPhase.objects.filter(number=phase).exists():
        raise RiskInputError(f"Rollout phase {phase} is not defined.", fields={"phase": ["Choose 1, 2, 3 or 4."]})
    limits_row()
    row = RiskLimits.objects.select_for_update().get(pk=1)
    old = {"phase": row.rollout_phase, "on_paper": row.rollout_on_paper}
    row.rollout_phase = phase
    if on_paper is not None:
        row.rollout_on_paper = on_paper
    row.updated_at, row.updated_by, row.reason = clock.now(), _actor_or_none(actor), reason
    row.save()
    data = {"old": old, "new": {"phase": row.rollout_phase, "on_paper": row.rollout_on_paper}}
    _event(kind=RiskEvent.Kind.ROLLOUT_CHANGE, actor=actor, subject=f"phase {phase}", reason=reason, data=data)
    action_record(actor=actor, action="rollout.phase_set", target=row, reason=reason, data=data)
    state_invalidate()


@transaction.atomic
def rollout_phase_define(*, actor: Actor, number: int, reason: str, capital_cap: Decimal | None = None,
                         symbols: list[str] | None = None) -> RolloutPhase:
    """Adjust a phase's capital cap or allow-list (admin, with a reason); empty symbols: full universe."""
    reason = _require_reason(reason)
    _require_role(actor, ADMIN, "Changing a rollout phase")
    row = RolloutPhase.objects.select_for_update().filter(number=number).first()
    if row is None:
        raise RiskInputError(f"Rollout phase {number} is not defined.", fields={"number": ["Choose 1, 2, 3 or 4."]})
    if capital_cap is not None and capital_cap <= 0:
        raise RiskInputError("The capital cap must be positive.", fields={"capital_cap": ["Must be positive."]})
    old = {"capital_cap": str(row.capital_cap), "symbols": list(row.symbols)}
    if capital_cap is not None:
        row.capital_cap = capital_cap
    if symbols is not None:
        row.symbols = sorted({s.strip().upper() for s in symbols if s.strip()})
    row.save()
    data = {"old": old, "new": {"capital_cap": str(row.capital_cap), "symbols": list(row.symbols)}}
    _event(kind=RiskEvent.Kind.ROLLOUT_CHANGE, actor=actor, subject=f"phase {number} definition", reason=reason,
           data=data)
    action_record(actor=actor, action="rollout.phase_define", target=row, reason=reason, data=data)
    state_invalidate()
    return row


@transaction.atomic
def position_risk_set(*, actor: Actor, symbol: str, reason: str, stop_loss_pct: Decimal | None = None,
                      take_profit_pct: Decimal | None = None, trailing_stop_pct: Decimal | None = None,
                      disabled: bool = False) -> PositionRisk:
    """Per-position overrides of the stop rules (operator, with a reason). ``None`` uses the default."""
    reason = _require_reason(reason)
    _require_role(actor, OPERATOR, "Changing a position's stops")
    for name, value in (("stop_loss_pct", stop_loss_pct), ("take_profit_pct", take_profit_pct),
                        ("trailing_stop_pct", trailing_stop_pct)):
        if value is not None and not (Decimal(0) < value < Decimal(1)):
            raise RiskInputError(f"{name} must be between 0 and 1.", fields={name: ["Must be between 0 and 1."]})
    symbol = symbol.strip().upper()
    if not symbol:
        raise RiskInputError("A symbol is required.", fields={"symbol": ["This field is required."]})
    # Checked before any write: longer than the column or not an asset we know → 400, nothing stored.
    if len(symbol) > PositionRisk._meta.get_field("symbol").max_length or asset_get(symbol=symbol) is None:
        raise RiskInputError(f"Unknown symbol {symbol[:20]}.", fields={"symbol": ["Unknown symbol."]})
    row, _ = PositionRisk.objects.select_for_update().get_or_create(symbol=symbol)
    row.stop_loss_pct, row.take_profit_pct, row.trailing_stop_pct = stop_loss_pct, take_profit_pct, trailing_stop_pct
    row.disabled = disabled
    row.updated_at = clock.now()
    row.save()
    action_record(actor=actor, action="position_risk.set", target=row, reason=reason,
                  data={"stop_loss_pct": str(stop_loss_pct), "take_profit_pct": str(take_profit_pct),
                        "trailing_stop_pct": str(trailing_stop_pct), "disabled": disabled})
    return row


# --- defaults --------------------------------------------------------------------------------------

ROLLOUT_PHASES = (
    # The reference's graduated rollout (docs/RUNBOOKS/graduated-rollout-schedule.md).
    (1, "Tiny notional", Decimal("500"), ["SPY", "QQQ"], "Days 1-3: verify end-to-end live execution."),
    (2, "Expanded symbols", Decimal("2000"), ["SPY", "QQQ", "AAPL", "MSFT", "GOOG"],
     "Days 4-7: multi-symbol coordination."),
    (3, "Full strategy activation", Decimal("10000"), [], "Days 8-14: all strategies on the full universe."),
    (4, "Capital ramp", Decimal("50000"), [], "Days 15-30: ramp to the target capital."),
)


def risk_defaults_ensure() -> str:
    """Idempotent: the limits row, the kill-switch row, the four rollout phases and the breaker rows."""
    with transaction.atomic():
        limits_row()
        KillSwitch.objects.get_or_create(pk=1)
        for number, name, cap, symbols, goal in ROLLOUT_PHASES:
            RolloutPhase.objects.get_or_create(
                number=number, defaults={"name": name, "capital_cap": cap, "symbols": symbols, "goal": goal}
            )
        for name in CircuitBreaker.Name.values:
            CircuitBreaker.objects.get_or_create(name=name)
    return "limits, kill switch, rollout phases 1-4 and breakers present"
