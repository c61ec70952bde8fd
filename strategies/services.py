"""Strategy services: configuration writes (audited), signal runs and allocation.

Entry points for the rebalance workflow and replay (all keyword-only):

- :func:`signals_history` ``(start, end, strategies=None) -> SignalHistory`` — reads only: every
  strategy over every session of the range in one vectorised pass; ``history.at(day)`` gives the
  :class:`SignalSet` of a day without further queries (replay).
- :func:`signals_compute` ``(as_of, strategies=None) -> SignalSet`` — reads only. Builds the adjusted
  close panel up to ``as_of``, runs each enabled strategy over its enabled symbols (vectorised, last row
  = the signal for the latest session on or before ``as_of``) and the strategies' recent daily returns
  (for inverse-vol sizing and correlation monitoring).
- :func:`signals_record` ``(as_of, strategies=None, run_id=None) -> SignalRun`` — computes and stores
  :class:`Signal` rows under one run id (idempotent for a given run id).
- :func:`allocation_preview` ``(method, as_of=None, gross=None) -> AllocationOutcome`` — blends the
  signals with :class:`~strategies.allocation.MultiAlphaAllocator`; reports correlation without alerting.
- :func:`allocation_compute` — the same, for the rebalance: a correlation breach raises the
  ``strategy_correlation`` alert (WARNING log, Alert row, Redis ``alerts`` message).

While the kill switch is engaged, :func:`signals_record` and :func:`allocation_compute` refuse
(``KILL_SWITCH_ENGAGED``, HTTP 409); the read-only preview stays available.

Configuration writes: :func:`strategy_create`, :func:`strategy_update`, :func:`strategy_symbol_set` —
each validates, writes, and records an :class:`~trading_site.models.ActionLog` row (actor, reason) in
the same transaction; django-auditlog adds the field diffs.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

import pandas as pd
from django.db import transaction

from marketdata.models import Asset
from marketdata.panels import close_panel
from strategies import conf
from strategies.allocation import METHODS, AllocationResult, CorrelationResult, MultiAlphaAllocator, correlation_measure
from strategies.library import (
    ParameterError,
    StrategyOutput,
    lookback_sessions,
    parameters_validate,
    strategy_returns,
    strategy_weights,
)
from strategies.models import Signal, Strategy, StrategySymbol
from trading_site.audit import action_record
from trading_site.lib import clock
from trading_site.lib.actors import Actor
from trading_site.lib.errors import DomainError

WEIGHT_QUANTUM = Decimal("0.000000001")
TRADING_DAYS = 252


class StrategyNotFound(DomainError):
    code = "not_found"
    kind = "not_found"


class InvalidStrategyInput(DomainError):
    code = "validation_error"
    kind = "invalid"


class KillSwitchEngaged(DomainError):
    """New signals and rebalance allocations are blocked while the kill switch is engaged (SPEC §4 Risk)."""

    code = "KILL_SWITCH_ENGAGED"
    kind = "conflict"


def _refuse_when_kill_switch_engaged(what: str) -> None:
    from risk.selectors import kill_switch_engaged  # risk reads market data from this app: import late

    if kill_switch_engaged():
        raise KillSwitchEngaged(f"The kill switch is engaged: no {what} until an admin resets it.")


# --- configuration writes ------------------------------------------------------------------------------


def _validated(kind: str, parameters: object) -> dict:
    try:
        return parameters_validate(kind=kind, parameters=parameters)
    except ParameterError as exc:
        raise InvalidStrategyInput(f"invalid parameters: {exc}", fields={"parameters": exc.fields}) from None


def _cap(value: object) -> Decimal:
    try:
        cap = Decimal(str(value))
    except ArithmeticError:
        cap = Decimal("NaN")
    if (
        isinstance(value, bool)
        or not cap.is_finite()
        or not Decimal(0) < cap <= 1
        or cap != cap.quantize(Decimal("0.0001"))
    ):
        raise InvalidStrategyInput(
            "capital_cap must be a number in (0, 1] with at most 4 decimal places", fields={"capital_cap": str(value)}
        )
    return cap


def _strategy_locked(strategy_id: int) -> Strategy:
    strategy = Strategy.objects.select_for_update().filter(pk=strategy_id).first()
    if strategy is None:
        raise StrategyNotFound(f"strategy {strategy_id} does not exist")
    return strategy


@transaction.atomic
def strategy_create(
    *,
    actor: Actor,
    name: str,
    kind: str,
    parameters: dict,
    symbols: list[str],
    enabled: bool = True,
    capital_cap: Decimal | None = None,
    reason: str = "",
) -> Strategy:
    if kind not in Strategy.Kind.values:
        raise InvalidStrategyInput(f"unknown kind {kind!r}", fields={"kind": f"must be one of {Strategy.Kind.values}"})
    params = _validated(kind, parameters)
    cap = _cap(capital_cap if capital_cap is not None else conf.ALLOCATION_STRATEGY_CAP)
    assets = list(Asset.objects.filter(symbol__in=[s.upper() for s in symbols]))
    unknown = sorted({s.upper() for s in symbols} - {a.symbol for a in assets})
    if unknown:
        raise InvalidStrategyInput(f"unknown symbols: {', '.join(unknown)}", fields={"symbols": unknown})
    now = clock.now()
    strategy = Strategy.objects.create(
        name=name, kind=kind, parameters=params, enabled=enabled, capital_cap=cap, created_at=now, updated_at=now
    )
    StrategySymbol.objects.bulk_create([StrategySymbol(strategy=strategy, asset=a) for a in assets])
    action_record(
        actor=actor,
        action="strategy.create",
        target=strategy,
        reason=reason,
        data={"name": name, "kind": kind, "parameters": params, "symbols": sorted(a.symbol for a in assets)},
    )
    return strategy


@transaction.atomic
def strategy_update(
    *,
    actor: Actor,
    strategy_id: int,
    enabled: bool | None = None,
    parameters: dict | None = None,
    capital_cap: Decimal | None = None,
    reason: str = "",
) -> Strategy:
    """Change a strategy's enabled flag, parameters and/or cap. Invalid input changes nothing."""
    strategy = _strategy_locked(strategy_id)
    changes: dict[str, dict] = {}
    if enabled is not None:
        if not isinstance(enabled, bool):
            raise InvalidStrategyInput("enabled must be true or false", fields={"enabled": "must be a boolean"})
        if enabled != strategy.enabled:
            changes["enabled"] = {"from": strategy.enabled, "to": enabled}
            strategy.enabled = enabled
    if parameters is not None:
        params = _validated(strategy.kind, parameters)
        if params != strategy.parameters:
            changes["parameters"] = {"from": strategy.parameters, "to": params}
            strategy.parameters = params
    if capital_cap is not None:
        cap = _cap(capital_cap)
        if cap != strategy.capital_cap:
            changes["capital_cap"] = {"from": str(strategy.capital_cap), "to": str(cap)}
            strategy.capital_cap = cap
    if changes:
        strategy.updated_at = clock.now()
        strategy.save()
        action = "strategy.toggle" if set(changes) == {"enabled"} else "strategy.update"
        action_record(actor=actor, action=action, target=strategy, reason=reason, data=changes)
    return strategy


@transaction.atomic
def strategy_symbol_set(*, actor: Actor, strategy_id: int, symbol: str, enabled: bool, reason: str = "") -> StrategySymbol:
    """Turn one symbol of a strategy's universe on or off (audited)."""
    if not isinstance(enabled, bool):
        raise InvalidStrategyInput("enabled must be true or false", fields={"enabled": "must be a boolean"})
    strategy = _strategy_locked(strategy_id)
    row = (
        StrategySymbol.objects.select_for_update()
        .select_related("asset")
        .filter(strategy=strategy, asset__symbol=symbol.upper())
        .first()
    )
    if row is None:
        raise StrategyNotFound(f"symbol {symbol.upper()} is not in strategy {strategy.name}'s universe")
    if row.enabled != enabled:
        row.enabled = enabled
        row.save(update_fields=["enabled"])
        action_record(
            actor=actor,
            action="strategy.symbol_toggle",
            target=row,
            reason=reason,
            data={"strategy": strategy.name, "symbol": row.asset.symbol, "enabled": enabled},
        )
    return row


# --- signals ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalSet:
    as_of: dt.date
    session: dt.date | None  # the latest session with data on or before as_of
    signals: dict[str, pd.DataFrame]  # strategy name -> symbol, score, weight (its universe)
    returns: pd.DataFrame  # recent daily returns, sessions × strategy names
    stats: dict[str, dict[str, float]]  # strategy name -> {"vol": annualised volatility}
    strategy_ids: dict[str, int] = field(default_factory=dict)


def _strategies_selected(strategies: list[str] | None) -> list[Strategy]:
    qs = Strategy.objects.all()
    if strategies is None:
        return list(qs.filter(enabled=True).order_by("name"))
    found = list(qs.filter(name__in=strategies).order_by("name"))
    unknown = sorted(set(strategies) - {s.name for s in found})
    if unknown:
        raise StrategyNotFound(f"unknown strategies: {', '.join(unknown)}")
    return found


@dataclass(frozen=True)
class SignalHistory:
    """Every strategy's scores and weights for every session of a range, computed in one pass.

    Replay builds this once and asks :meth:`at` for each trading day without touching the database;
    live trading is the special case of a range ending today (:func:`signals_compute`).
    """

    prices: pd.DataFrame  # adjusted closes, sessions × symbols (including the warm-up before start)
    outputs: dict[str, StrategyOutput]
    universes: dict[str, list[str]]
    returns: pd.DataFrame  # daily strategy returns, sessions × strategy names
    strategy_ids: dict[str, int]

    def at(self, as_of: dt.date) -> SignalSet:
        """The signals for the latest session on or before ``as_of``, and the trailing returns/σ."""
        if not self.outputs:
            return SignalSet(as_of, None, {}, pd.DataFrame(), {}, self.strategy_ids)
        row = int(self.prices.index.searchsorted(pd.Timestamp(as_of), side="right")) - 1
        if row < 0:
            return SignalSet(as_of, None, {}, pd.DataFrame(), {}, self.strategy_ids)
        signals = {
            name: pd.DataFrame(
                {
                    "symbol": self.universes[name],
                    "score": out.scores.iloc[row].to_numpy(),
                    "weight": out.weights.iloc[row].to_numpy(),
                }
            )
            for name, out in self.outputs.items()
        }
        recent = self.returns.iloc[max(0, row - conf.CORRELATION_LOOKBACK + 1) : row + 1]
        stats = {name: {"vol": float(recent[name].std() * math.sqrt(TRADING_DAYS))} for name in recent.columns}
        return SignalSet(as_of, self.prices.index[row].date(), signals, recent, stats, self.strategy_ids)


@dataclass(frozen=True)
class StrategySpec:
    """A strategy's definition without its row: what a replay runs (read once from the live row or
    from the demo defaults, so the replay never writes a ``Strategy`` row of the live database)."""

    name: str
    kind: str
    parameters: dict
    capital_cap: Decimal
    symbols: tuple[str, ...]
    pk: int | None = None


def signals_history(
    *, start: dt.date, end: dt.date, strategies: list[str] | None = None, specs: list[StrategySpec] | None = None
) -> SignalHistory:
    """Vectorised signals of the enabled (or named, or given ``specs``) strategies for every session
    in [start, end].

    Prices are loaded from enough sessions before ``start`` for every strategy's lookback and the
    correlation window, so the row for day D is what live trading computes on D (no look-ahead:
    every operation is causal, see ``strategies.library``).
    """
    if start > end:
        raise InvalidStrategyInput("start must not be after end", fields={"start": str(start)})
    if specs is not None:
        selected = sorted(specs, key=lambda s: s.name)
        universes: dict[str, list[str]] = {s.name: sorted(s.symbols) for s in selected}
    else:
        selected = _strategies_selected(strategies)
        universes = {s.name: [] for s in selected}
        for name, symbol in (
            StrategySymbol.objects.filter(strategy__in=selected, enabled=True)
            .order_by("asset__symbol")
            .values_list("strategy__name", "asset__symbol")
        ):
            universes[name].append(symbol)
    ids = {s.name: s.pk for s in selected}
    all_symbols = sorted({s for syms in universes.values() for s in syms})
    if not selected or not all_symbols:
        return SignalHistory(pd.DataFrame(), {}, {}, pd.DataFrame(), ids)
    sessions_needed = max(lookback_sessions(kind=s.kind, parameters=s.parameters) for s in selected)
    sessions_needed += conf.CORRELATION_LOOKBACK + 5
    warm_up = start - dt.timedelta(days=math.ceil(sessions_needed * 7 / 5) + 15)
    panel = close_panel(symbols=all_symbols, start=warm_up, end=end, adjusted=True)
    outputs: dict[str, StrategyOutput] = {}
    returns: dict[str, pd.Series] = {}
    kept: dict[str, list[str]] = {}
    for strategy in selected:
        universe = [s for s in universes[strategy.name] if s in panel.columns]
        if not universe:
            continue
        prices = panel[universe]
        out = strategy_weights(kind=strategy.kind, parameters=strategy.parameters, prices=prices)
        outputs[strategy.name], kept[strategy.name] = out, universe
        returns[strategy.name] = strategy_returns(weights=out.weights, prices=prices)
    return SignalHistory(panel, outputs, kept, pd.DataFrame(returns, index=panel.index), ids)


def signals_compute(*, as_of: dt.date, strategies: list[str] | None = None) -> SignalSet:
    """Signals of the enabled (or the named) strategies from data available on ``as_of``."""
    return signals_history(start=as_of, end=as_of, strategies=strategies).at(as_of)


@dataclass(frozen=True)
class SignalRun:
    run_id: str
    session: dt.date | None
    count: int


def _weight_decimal(value: float) -> Decimal:
    clipped = min(max(float(value), 0.0), 1.0)
    return Decimal(repr(clipped)).quantize(WEIGHT_QUANTUM, rounding=ROUND_HALF_EVEN)


def signal_rows(*, signal_set: SignalSet, run_id: str, asset_ids: dict[str, int] | None = None) -> list[Signal]:
    """Unsaved :class:`Signal` rows of a signal set under ``run_id`` (one per strategy and symbol);
    ``asset_ids`` (symbol -> asset id) spares the look-up when the caller holds them (replay)."""
    symbols = {s for frame in signal_set.signals.values() for s in frame["symbol"]}
    assets = asset_ids if asset_ids is not None else dict(
        Asset.objects.filter(symbol__in=symbols).values_list("symbol", "id")
    )
    now = clock.now()
    return [
        Signal(
            run_id=run_id,
            strategy_id=signal_set.strategy_ids[name],
            asset_id=assets[symbol],
            session=signal_set.session,
            score=float(score) if pd.notna(score) else None,
            target_weight=_weight_decimal(weight),
            created_at=now,
        )
        for name, frame in signal_set.signals.items()
        # columns as lists: a row-wise pandas iteration costs more than the rows themselves
        for symbol, score, weight in zip(
            frame["symbol"].tolist(), frame["score"].tolist(), frame["weight"].tolist(), strict=True
        )
    ]


@transaction.atomic
def signals_record(*, as_of: dt.date, strategies: list[str] | None = None, run_id: str | None = None) -> SignalRun:
    """Compute and store the signals of one run. Re-running with the same ``run_id`` overwrites it."""
    _refuse_when_kill_switch_engaged("new signals")
    result = signals_compute(as_of=as_of, strategies=strategies)
    run_id = run_id or f"{as_of.isoformat()}-{uuid.uuid4().hex[:12]}"
    if len(run_id) > 64:
        raise InvalidStrategyInput("run_id is longer than 64 characters", fields={"run_id": "too long"})
    rows = signal_rows(signal_set=result, run_id=run_id)
    Signal.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["run_id", "strategy", "asset"],
        update_fields=["session", "score", "target_weight", "created_at"],
    )
    return SignalRun(run_id=run_id, session=result.session, count=len(rows))


# --- allocation ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationOutcome:
    as_of: dt.date
    session: dt.date | None
    allocation: AllocationResult
    correlation: CorrelationResult


def allocator_from_settings(*, method: str, gross: float, caps: dict[str, float]) -> MultiAlphaAllocator:
    """The allocator with the configured per-strategy cap and correlation threshold (preview, rebalance, replay)."""
    return MultiAlphaAllocator(
        method=method,
        per_strategy_max=float(conf.ALLOCATION_STRATEGY_CAP),
        gross=gross,
        strategy_caps=caps,
        correlation_threshold=conf.CORRELATION_THRESHOLD,
    )


def _allocate(
    *, method: str, as_of: dt.date | None, gross: Decimal | float | None
) -> tuple[AllocationOutcome, MultiAlphaAllocator, SignalSet]:
    if method not in METHODS:
        raise InvalidStrategyInput(
            f"unknown allocation method {method!r}", fields={"method": f"must be one of {', '.join(METHODS)}"}
        )
    gross_value = float(conf.ALLOCATION_GROSS if gross is None else gross)
    if not math.isfinite(gross_value) or not 0 < gross_value <= 4:
        raise InvalidStrategyInput("gross must be in (0, 4]", fields={"gross": str(gross)})
    as_of = as_of or clock.today_ny()
    signal_set = signals_compute(as_of=as_of)
    caps = {s.name: float(s.capital_cap) for s in Strategy.objects.filter(name__in=list(signal_set.signals))}
    allocator = allocator_from_settings(method=method, gross=gross_value, caps=caps)
    allocation = allocator.allocate(signal_set.signals, signal_set.stats)
    for name in Strategy.objects.filter(enabled=False).values_list("name", flat=True):
        allocation.excluded.setdefault(name, "disabled")
    correlation = correlation_measure(signal_set.returns, threshold=allocator.correlation_threshold)
    return AllocationOutcome(as_of, signal_set.session, allocation, correlation), allocator, signal_set


def allocation_preview(
    *, method: str, as_of: dt.date | None = None, gross: Decimal | float | None = None
) -> AllocationOutcome:
    """Blend the enabled strategies' signals for ``as_of`` (default: today in New York). Read-only."""
    outcome, _, _ = _allocate(method=method, as_of=as_of, gross=gross)
    return outcome


@transaction.atomic
def allocation_compute(
    *, as_of: dt.date, method: str | None = None, gross: Decimal | float | None = None
) -> AllocationOutcome:
    """Allocation for the rebalance: like the preview (method defaults to ``ALLOCATION_METHOD``), and a
    correlation breach raises the ``strategy_correlation`` alert."""
    _refuse_when_kill_switch_engaged("rebalance allocation")
    outcome, allocator, signal_set = _allocate(method=method or conf.ALLOCATION_METHOD, as_of=as_of, gross=gross)
    allocator.check_correlation(signal_set.returns)
    return outcome
