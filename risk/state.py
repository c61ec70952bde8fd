"""The risk state the order path reads: one cached snapshot, rebuilt from the database on a miss.

Kill switch, open breakers, limits and the rollout phase are read together with a single cache GET
(Redis in production and tests, the file cache in the embedded run), so the pre-trade checks cost
one round trip. Every service that changes any of them calls :func:`state_invalidate` inside its
transaction; the key is deleted after commit, so the next reader rebuilds from the database, which
stays the truth (a restart loses nothing). A short TTL bounds the one race left: a reader that
loaded the old rows just before the commit and stores them just after the delete.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction

from risk import conf
from risk.models import CircuitBreaker, KillSwitch, RiskLimits, RolloutPhase

CACHE_KEY = "risk:state:v1"


@dataclass(frozen=True, slots=True)
class LimitsData:
    max_order_notional: Decimal
    max_position_notional: Decimal
    max_gross_exposure: Decimal
    price_band_pct: Decimal
    orders_per_minute: int
    broker_requests_per_minute: int
    daily_loss_pct: Decimal
    max_drawdown_pct: Decimal
    daily_loss_auto_reset: bool
    stale_data_sessions: int
    stop_loss_pct: Decimal
    take_profit_pct: Decimal
    trailing_stop_pct: Decimal | None
    allow_extended_hours: bool
    kill_switch_flatten: bool
    pdt_rule_enabled: bool
    pdt_equity_threshold: Decimal
    symbol_denylist: tuple[str, ...]
    rollout_phase: int | None
    rollout_on_paper: bool

    @classmethod
    def from_row(cls, row: RiskLimits) -> LimitsData:
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["symbol_denylist"] = tuple(s.upper() for s in row.symbol_denylist or ())
        return cls(**values)

    @classmethod
    def defaults(cls) -> LimitsData:
        return cls.from_row(RiskLimits(pk=1))


@dataclass(frozen=True, slots=True)
class PhaseData:
    number: int
    name: str
    capital_cap: Decimal
    symbols: tuple[str, ...]  # empty: the full universe


@dataclass(frozen=True, slots=True)
class RiskState:
    kill_switch_engaged: bool
    open_breakers: tuple[str, ...]
    limits: LimitsData
    phase: PhaseData | None


def limits_row() -> RiskLimits:
    row, _ = RiskLimits.objects.get_or_create(pk=1)
    return row


def state_load() -> RiskState:
    """Build the snapshot from the database (no cache)."""
    limits = LimitsData.from_row(limits_row())
    engaged = KillSwitch.objects.filter(pk=1, engaged=True).exists()
    open_breakers = tuple(
        CircuitBreaker.objects.filter(state=CircuitBreaker.State.OPEN).order_by("name").values_list("name", flat=True)
    )
    phase = None
    if limits.rollout_phase is not None:
        row = RolloutPhase.objects.filter(number=limits.rollout_phase).first()
        if row is not None:
            phase = PhaseData(
                number=row.number,
                name=row.name,
                capital_cap=row.capital_cap,
                symbols=tuple(s.upper() for s in row.symbols or ()),
            )
    return RiskState(kill_switch_engaged=engaged, open_breakers=open_breakers, limits=limits, phase=phase)


def risk_state() -> RiskState:
    """The cached snapshot; a miss rebuilds it from the database."""
    state = cache.get(CACHE_KEY)
    if state is None:
        state = state_load()
        cache.set(CACHE_KEY, state, conf.STATE_CACHE_SECONDS)
    return state


def state_invalidate() -> None:
    """Drop the cached snapshot after the current transaction commits (immediately outside one)."""
    transaction.on_commit(lambda: cache.delete(CACHE_KEY))
