"""The risk state the order path reads: one cached snapshot, rebuilt from the database on a miss.

Kill switch, open breakers, limits and the rollout phase are read together with the current
generation in a single cache MGET (Redis in production and tests, the file cache in the embedded
run), so the pre-trade checks cost one round trip. Every service that changes any of them calls
:func:`state_invalidate` inside its transaction; the generation is bumped after commit, and a
snapshot built at an older generation is rebuilt from the database, which stays the truth (a
restart loses nothing). Deleting the key after commit would not be enough: a reader that loaded the
old rows just before the commit could store them just after the delete, and every process would
then serve the old kill-switch state until the TTL ran out. With the generation that late store is
tagged with the old number and ignored.

The cache is an accelerator, never the truth: while it is unreachable (Redis down) the snapshot is
read from the database on every call, and a generation bump that fails after a commit is logged —
the cached snapshot it should have outdated expires within ``RISK_STATE_CACHE_SECONDS``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction

from risk import conf
from risk.models import CircuitBreaker, KillSwitch, RiskLimits, RolloutPhase
from trading_site.lib.outages import CACHE_ERRORS

logger = logging.getLogger(__name__)

CACHE_KEY = "risk:state:v2"  # v2: snapshots carry their generation
GENERATION_KEY = "risk:state:generation"  # never expires; bumped after every committed change


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
    generation: int = 0  # the value of GENERATION_KEY read before the rows were loaded


def limits_row() -> RiskLimits:
    row, _ = RiskLimits.objects.get_or_create(pk=1)
    return row


def state_load(*, generation: int = 0) -> RiskState:
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
    return RiskState(kill_switch_engaged=engaged, open_breakers=open_breakers, limits=limits, phase=phase,
                     generation=generation)


def risk_state() -> RiskState:
    """The cached snapshot; a miss or an older generation rebuilds it from the database."""
    try:
        got = cache.get_many([CACHE_KEY, GENERATION_KEY])
    except CACHE_ERRORS as exc:
        logger.warning("risk state: cache unreachable (%s); reading the database", exc)
        return state_load()
    generation = got.get(GENERATION_KEY, 0)
    state = got.get(CACHE_KEY)
    if state is None or state.generation != generation:
        state = state_load(generation=generation)
        try:
            cache.set(CACHE_KEY, state, conf.STATE_CACHE_SECONDS)
        except CACHE_ERRORS as exc:
            logger.warning("risk state: could not cache the snapshot (%s)", exc)
    return state


def _generation_bump() -> None:
    try:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # no key yet (first change, or the cache was flushed)
            if not cache.add(GENERATION_KEY, 1, timeout=None):
                cache.incr(GENERATION_KEY)  # another process created it first
    except CACHE_ERRORS:
        # The change is committed (the database is the truth); a snapshot cached before it expires
        # within RISK_STATE_CACHE_SECONDS. Raising here would only fail the caller after its commit.
        logger.exception("risk state: the generation bump failed; cached snapshots expire in %ss",
                         conf.STATE_CACHE_SECONDS)


def state_invalidate() -> None:
    """Outdate the cached snapshot after the current transaction commits (immediately outside one)."""
    transaction.on_commit(_generation_bump)
