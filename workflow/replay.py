"""Replay (backtest) through the live code path, in a database of its own.

What runs: for every NYSE session in ``[start, end]`` the simulated clock is set to the rebalance
moment (15 minutes before the close) and the *same* :func:`workflow.daily.rebalance_run` runs
(mode ``replay``) — allocation, risk validation, :func:`~workflow.daily.orders_plan`, the real
gateway with its pre-trade checks, the simulated exchange, fills, positions and tax lots. After the
close the leftovers are handled by the same :func:`~workflow.daily.fills_confirm` and
:func:`~workflow.daily.day_orders_cancel` as the market-close workflow.

Fast path: signals and weights of every day come from one vectorised
:func:`~strategies.services.signals_history` pass; raw bars are loaded once for the exchange; the
day's allocation is computed once and handed to the chain; an in-memory mirror of cash and
positions decides whether a day trades, so the ledger is only touched on days with orders. Tax
lots follow the fills through the same engine, applied in bulk when the run ends
(:func:`tax.services.lots_apply_fills`, the tax-lot listener replaced for this thread by
:func:`orders.events.listeners_replaced`) rather than loaded, applied and written per fill. The
equity curve is ``cash + Σ qty × close`` of each day from the mirror, reconciled with the ledger at
the end (``consistency``).

Isolation (ADR 0019): the live database is only read, before the run (bars, assets, the strategies'
definitions, the risk limits). The run itself writes to a fresh SQLite file of its own
(:func:`workflow.replay_store.replay_store`), which is this thread's database connection for the
duration: no live row is inserted or updated, no lock is taken on the live database, and any number
of replays run at once with each other and with live trading. The risk controls run with the live
limits but with no kill switch, breakers or rollout phase (a backtest is not live trading) and
without the wall-clock rate limiter (:func:`risk.checks.controls_override`). The calendar is the
market clock's (from ``RISK_CALENDAR_START``), so any window the data covers can be replayed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd
from auditlog.context import disable_auditlog

from marketdata import market_clock
from marketdata.bundled import bundled_load, demo_symbols
from marketdata.models import Asset, Bar
from marketdata.panels import benchmark_close_series
from marketdata.selectors import BarData
from orders.book import Book, book_open, persist_all
from orders.brokers import use_broker
from orders.brokers.simulated import PreloadedBars, SimulatedBroker
from orders.events import FillEvent, listeners_replaced
from orders.models import Order, Position
from orders.selectors import price_cache_clear
from orders.slicing import slices_dispatch_due
from orders.tca import shortfall_bps
from risk import orders_port
from risk.checks import controls_override
from risk.models import RiskLimits
from risk.state import LimitsData, RiskState
from strategies import conf as strategy_conf
from strategies.allocation import METHODS
from strategies.models import Strategy, StrategySymbol
from strategies.services import StrategySpec, signal_rows, signals_history
from tax.models import RealizedGain
from tax.services import lots_apply_fill, lots_apply_fills
from trading_site.lib.clock import NEW_YORK, SimulatedClock, use_clock
from trading_site.lib.errors import DomainError
from workflow import conf
from workflow.daily import (
    ChainInputs,
    allocation_from_signals,
    day_orders_cancel,
    fills_confirm,
    min_trade_notional,
    orders_plan,
    rebalance_run,
    weights_of,
)
from workflow.demo import DEMO_STRATEGIES
from workflow.models import RebalanceRun
from workflow.performance import metrics_compute
from workflow.replay_store import replay_dir, replay_store


class ReplayInputError(DomainError):
    code = "validation_error"
    kind = "invalid"


def replay_broker(*, capital: Decimal, bars: dict) -> SimulatedBroker:
    """The simulated exchange of a replay: NYSE hours, the preloaded bars, the replay's capital.
    Fills are booked inside the submitting call (inline): each day's fills are in the ledger before
    the next step reads positions."""
    return SimulatedBroker(market_hours="nyse", fill_delivery="inline", bars=PreloadedBars(bars),
                           starting_cash=capital)


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """The allocator logs its cap warning on every call; once per replay day is noise."""
    import logging

    log = logging.getLogger(name)
    saved = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(saved)


# --- the replay ---------------------------------------------------------------------------------------------


@dataclass
class ReplayResult:
    start: dt.date
    end: dt.date
    capital: Decimal
    strategies: list[str]
    equity: pd.Series  # per session
    benchmark: pd.Series  # SPX scaled to the capital
    trades: int
    traded_notional: Decimal
    commissions: Decimal
    runs: int
    days: dict[dt.date, dict] = field(default_factory=dict)  # day -> {"weights", "orders"} for trade days
    consistency: dict = field(default_factory=dict)
    store_path: str = ""
    data_fingerprint: str = ""
    final_cash: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)  # the sum of the tax lots' realized gains
    trade_rows: list[dict] = field(default_factory=list)
    attribution: dict = field(default_factory=dict)
    tca: dict = field(default_factory=dict)

    @property
    def final_equity(self) -> Decimal:
        return Decimal(self.consistency.get("ledger_equity", "0")) if self.consistency else self.capital

    def as_json(self) -> dict:
        metrics = metrics_compute(
            equity=self.equity, traded_notional=self.traded_notional, commissions=self.commissions, trades=self.trades
        )
        bench = metrics_compute(equity=self.benchmark) if len(self.benchmark) else {}
        metrics["benchmark"] = {
            k: bench.get(k) for k in ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown")
        }
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "capital": str(self.capital),
            "strategies": self.strategies,
            "metrics": metrics,
            "final_equity": str(self.final_equity.quantize(Decimal("0.01"))),
            "final_cash": str(self.final_cash.quantize(Decimal("0.01"))),
            "realized_pnl": str(self.realized_pnl.quantize(Decimal("0.01"))),
            "equity_curve": [
                {"date": d.date().isoformat(), "equity": round(float(v), 2)} for d, v in self.equity.items()
            ],
            "benchmark_curve": [
                {"date": d.date().isoformat(), "equity": round(float(v), 2)} for d, v in self.benchmark.items()
            ],
            "trades": self.trades,
            "rebalance_days": self.runs,
            "attribution": self.attribution,
            "tca": self.tca,
            "data_fingerprint": self.data_fingerprint,
            "store": self.store_path,
            "consistency": self.consistency,
        }


def _data_ensure() -> None:
    if not Bar.objects.exists():  # an empty database: the bundled demo dataset is what there is to replay
        bundled_load(dataset="demo")


def strategy_specs(names: list[str] | None, symbols: list[str] | None) -> list[StrategySpec]:
    """The named strategies (else the enabled ones, else one of each demo kind), read from the live
    rows when they exist, else from the demo defaults — never written anywhere live."""

    defaults = {name: (kind, params) for name, kind, params in DEMO_STRATEGIES}
    if names:
        wanted = sorted(set(names))
    else:
        wanted = sorted(Strategy.objects.filter(enabled=True).values_list("name", flat=True)) or sorted(defaults)
    rows = {s.name: s for s in Strategy.objects.filter(name__in=wanted)}
    unknown = [name for name in wanted if name not in rows and name not in defaults]
    if unknown:
        raise ReplayInputError(f"unknown strategy {unknown[0]!r}", fields={"strategies": unknown})
    universes: dict[str, list[str]] = {name: [] for name in rows}
    for name, symbol in (
        StrategySymbol.objects.filter(strategy__name__in=list(rows), enabled=True)
        .order_by("asset__symbol")
        .values_list("strategy__name", "asset__symbol")
    ):
        universes[name].append(symbol)
    missing = [name for name in wanted if name not in rows]
    demo = demo_symbols() if missing else []
    specs = []
    for name in wanted:
        if name in rows:
            row = rows[name]
            specs.append(StrategySpec(name, row.kind, row.parameters, row.capital_cap, tuple(universes[name]), row.pk))
        else:
            kind, params = defaults[name]
            # an id no live row has: the store's row gets it, so the signals' strategy ids match
            specs.append(
                StrategySpec(
                    name, kind, params, strategy_conf.ALLOCATION_STRATEGY_CAP, tuple(demo), pk=10**9 + len(specs)
                )
            )
    if symbols:
        keep = {s.strip().upper() for s in symbols}
        known = {s for spec in specs for s in spec.symbols}
        if keep - known:
            raise ReplayInputError(
                f"not in the strategies' universes: {', '.join(sorted(keep - known))}",
                fields={"symbols": sorted(keep - known)},
            )
        specs = [dataclasses.replace(spec, symbols=tuple(s for s in spec.symbols if s in keep)) for spec in specs]
    return specs


def _bars_preload(*, symbols: list[str], start: dt.date, end: dt.date) -> dict[str, tuple[list[dt.date], list]]:
    out: dict[str, tuple[list[dt.date], list]] = {s: ([], []) for s in symbols}
    rows = (
        Bar.objects.filter(asset__symbol__in=symbols, session__gte=start - dt.timedelta(days=45), session__lte=end)
        .order_by("asset__symbol", "session")
        .values_list("asset__symbol", "session", "open", "high", "low", "close", "volume")
    )
    for symbol, session, o, h, lo, c, v in rows:
        dates, bars = out[symbol]
        dates.append(session)
        bars.append(BarData(symbol, session, o, h, lo, c, v))
    return out


def data_fingerprint(bars: dict[str, tuple[list[dt.date], list]]) -> str:
    """SHA-256 of the raw bars the exchange traded on (symbol, session, OHLCV): same data, same print."""
    digest = hashlib.sha256()
    for symbol in sorted(bars):
        for bar in bars[symbol][1]:
            digest.update(f"{symbol}|{bar.session}|{bar.open}|{bar.high}|{bar.low}|{bar.close}|{bar.volume}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class _LiveInputs:
    """Everything a replay reads from the live database, read before the store is switched in."""

    specs: list[StrategySpec]
    assets: list[tuple]
    limits: object  # risk.state.LimitsData
    history: object  # strategies.services.SignalHistory
    bars: dict
    benchmark: pd.Series

    @property
    def asset_ids(self) -> dict[str, int]:
        return {symbol: pk for pk, symbol, *_ in self.assets}


def _live_read(*, specs: list[StrategySpec], start: dt.date, end: dt.date) -> _LiveInputs:
    history = signals_history(start=start, end=end, specs=specs)
    universe = sorted({s for syms in history.universes.values() for s in syms})
    assets = list(
        Asset.objects.order_by("pk").values_list("pk", "symbol", "name", "tradable", "fractionable", "min_lot")
    )
    row = RiskLimits.objects.filter(pk=1).first()  # read only: no get_or_create on the live database
    limits = LimitsData.from_row(row) if row is not None else LimitsData.defaults()
    bench = benchmark_close_series(start=start, end=end).astype(float)
    return _LiveInputs(
        specs=specs,
        assets=assets,
        limits=limits,
        history=history,
        bars=_bars_preload(symbols=universe, start=start, end=end),
        benchmark=bench,
    )


def _store_seed(live: _LiveInputs) -> None:
    """The store's reference rows: assets (same ids), the strategies and their universes."""
    from django.utils import timezone

    Asset.objects.bulk_create(
        [
            Asset(pk=pk, symbol=symbol, name=name, tradable=tradable, fractionable=fractionable, min_lot=min_lot)
            for pk, symbol, name, tradable, fractionable, min_lot in live.assets
        ]
    )
    ids = live.asset_ids
    now = timezone.now()
    for spec in live.specs:
        row = Strategy.objects.create(
            pk=spec.pk,
            name=spec.name,
            kind=spec.kind,
            parameters=spec.parameters,
            enabled=True,
            capital_cap=spec.capital_cap,
            created_at=now,
            updated_at=now,
        )
        StrategySymbol.objects.bulk_create(
            [StrategySymbol(strategy=row, asset_id=ids[s], enabled=True) for s in spec.symbols if s in ids]
        )


def replay_run(
    *,
    start: dt.date,
    end: dt.date,
    symbols: list[str] | None = None,
    strategies: list[str] | None = None,
    capital: Decimal = Decimal("100000"),
    method: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    store: Path | None = None,
) -> ReplayResult:
    """Replay ``[start, end]`` through the live workflow in a database of its own (``store``, default
    a new file under ``var/replays/``)."""

    if start > end:
        raise ReplayInputError("start must not be after end", fields={"start": start.isoformat()})
    if not capital.is_finite() or capital <= 0:
        raise ReplayInputError("capital must be a positive amount", fields={"capital": str(capital)})
    method = method or strategy_conf.ALLOCATION_METHOD
    if method not in METHODS:
        raise ReplayInputError(f"unknown method {method!r}", fields={"method": f"one of {', '.join(METHODS)}"})
    sessions = [d for d in market_clock.sessions_window(ending=end, count=100_000) if d >= start]
    if not sessions:
        raise ReplayInputError("no NYSE session in the range", fields={"start": start.isoformat()})
    _data_ensure()
    specs = strategy_specs(strategies, symbols)
    live = _live_read(specs=specs, start=sessions[0], end=sessions[-1])
    path = store or replay_dir() / f"replay-{uuid.uuid4().hex}.sqlite3"
    state = RiskState(kill_switch_engaged=False, open_breakers=(), limits=live.limits, phase=None)
    # The tax lots follow the fills through the same engine, applied in bulk when the run ends
    # (tax.services.lots_apply_fills) instead of one load-apply-write per fill.
    fills: list[FillEvent] = []
    # The field history (django-auditlog) records people's changes to live rows; the store has none.
    with (
        replay_store(path=path),
        disable_auditlog(),
        controls_override(state=state, rate_limits=False),
        listeners_replaced({lots_apply_fill: fills.append}),
        _quiet("strategies.allocation"),
    ):
        _store_seed(live)
        result = _replay_loop(
            sessions=sessions, live=live, capital=capital, method=method, progress=progress, fills=fills
        )
    result.store_path = str(path)
    return result


def _replay_loop(
    *,
    sessions: list[dt.date],
    live: _LiveInputs,
    capital: Decimal,
    method: str,
    progress: Callable[[int, int], None] | None,
    fills: list[FillEvent],
) -> ReplayResult:

    start, end = sessions[0], sessions[-1]
    history = live.history
    names = [spec.name for spec in live.specs]
    caps = {spec.name: float(spec.capital_cap) for spec in live.specs}
    universe = sorted(live.bars)
    fractionable: frozenset[str] = frozenset()
    if conf.REBALANCE_FRACTIONAL:
        fractionable = frozenset(  # from the assets read before the run (pk, symbol, name, tradable, fractionable, …)
            symbol for _, symbol, _, _, is_fractionable, _ in live.assets if is_fractionable and symbol in universe
        )
    broker = replay_broker(capital=capital, bars=live.bars)
    asset_ids = live.asset_ids
    sim = SimulatedClock(dt.datetime.combine(start, dt.time(9, 30), tzinfo=NEW_YORK))
    gross = float(strategy_conf.ALLOCATION_GROSS)

    cash = capital
    positions: dict[str, Decimal] = {}
    equity_by_day: dict[pd.Timestamp, float] = {}
    strategy_weights: dict[str, float] = {}
    attribution = dict.fromkeys(names, 0.0)
    days: dict[dt.date, dict] = {}
    traded = commissions = Decimal(0)
    trades = runs = 0
    previous_equity = float(capital)

    ledger = _Ledger()
    with use_clock(sim), use_broker(broker, this_thread_only=True), ledger:
        for i, day in enumerate(sessions):
            close = market_clock.session_close(day)
            moment = close - dt.timedelta(minutes=conf.REBALANCE_MINUTES_BEFORE_CLOSE)
            sim.set(moment)
            signal_set = history.at(day)
            weights: dict[str, float] = {}
            allocation = None
            if signal_set.signals:
                allocation = allocation_from_signals(
                    signal_set=signal_set, method=method, gross=gross, caps=caps, alert_correlation=False
                )
                weights = weights_of(allocation)
            symbols_now = sorted(set(weights) | set(positions))
            prices = {s: p for s in symbols_now if (p := broker.price_at(s, moment)) is not None}
            equity = cash + sum((q * prices.get(s, Decimal(0)) for s, q in positions.items()), Decimal(0))
            planned = orders_plan(
                targets=weights,
                equity=equity,
                prices=prices,
                positions=dict(positions),
                pending={},
                fractionable=fractionable,
                min_notional=min_trade_notional(equity=equity),
            )
            if planned:
                price_cache_clear()
                orders_port.account_cache_clear()
                # A day of plain orders keeps its ledger in memory (orders.book, written in bulk); a day
                # with a TWAP parent runs on the store itself (the dispatcher works on its rows).
                twap_day = conf.REBALANCE_TWAP_NOTIONAL > 0 and any(
                    p.notional > conf.REBALANCE_TWAP_NOTIONAL for p in planned
                )
                ledger.use(memory=not twap_day)
                frozen = (equity, dict(positions), prices)
                inputs = ChainInputs(
                    check_data=lambda d: {"source": "replay"},
                    signals=lambda d, s=signal_set: s,
                    record_signals=lambda d, run_id, s=signal_set: _signals_store(
                        signal_set=s, run_id=run_id, asset_ids=asset_ids
                    ),
                    caps=lambda: caps,
                    ledger=lambda _symbols, f=frozen: (f[0], f[1], {}, f[2]),
                    fractionable=lambda: fractionable,
                    risk_blocked=lambda: "",
                    phase=lambda: None,  # as the risk controls here (controls_override): no rollout phase
                    rate_full=lambda: False,  # replay runs without the live order-rate windows
                    alert_correlation=False,
                    allocation=allocation,
                )
                run = rebalance_run(day=day, method=method, gross=gross, mode=RebalanceRun.Mode.REPLAY, inputs=inputs)
                runs += 1
                if twap_day:
                    _slices_run(sim=sim, start=moment, close=close)
                sim.set(close - dt.timedelta(seconds=1))
                fills_confirm(broker=broker)
                sim.set(close + dt.timedelta(minutes=5))
                day_orders_cancel()
                for symbol, side, filled, notional, commission in ledger.day_orders(day):
                    sign = 1 if side == "buy" else -1
                    positions[symbol] = positions.get(symbol, Decimal(0)) + sign * filled
                    cash -= sign * notional + commission
                    traded += notional
                    commissions += commission
                    trades += 1
                positions = {s: q for s, q in positions.items() if q != 0}
                days[day] = {
                    "signals": {
                        name: dict(zip(frame["symbol"], frame["weight"].astype(float), strict=True))
                        for name, frame in signal_set.signals.items()
                    },
                    "weights": weights,
                    "orders": [p.as_dict() for p in getattr(run, "planned", [])],
                    "status": run.status,
                }
            today = float(
                cash + sum((q * (broker.price_at(s, close) or Decimal(0)) for s, q in positions.items()), Decimal(0))
            )
            equity_by_day[pd.Timestamp(day)] = today
            # Attribution: the day's P&L split by each strategy's share of the book it held overnight.
            held = sum(strategy_weights.values())
            for name, w in strategy_weights.items():
                attribution[name] += (today - previous_equity) * w / held if held else 0.0
            if allocation is not None and not allocation.by_strategy.empty:
                strategy_weights = {
                    str(s): float(w)
                    for s, w in zip(
                        allocation.by_strategy["strategy"], allocation.by_strategy["strategy_weight"], strict=True
                    )
                }
            previous_equity = today
            if progress is not None:
                progress(i + 1, len(sessions))
        ledger.use(memory=False)  # everything kept in memory is written to the store here
        consistency = _consistency(broker=broker, cash=cash, positions=positions, last_day=end)
        lots_apply_fills(events=fills)
        realized = _realized_total()
        trade_rows, tca = _trades_and_tca()

    equity = pd.Series(equity_by_day, dtype=float)
    bench = live.benchmark[live.benchmark.index >= pd.Timestamp(start)]
    benchmark = bench / bench.iloc[0] * float(capital) if len(bench) else pd.Series(dtype=float)
    standalone = history.returns
    window = standalone[standalone.index >= pd.Timestamp(start)] if len(standalone) else standalone
    return ReplayResult(
        start=start,
        end=end,
        capital=capital,
        strategies=names,
        equity=equity,
        benchmark=benchmark,
        trades=trades,
        traded_notional=traded,
        commissions=commissions,
        runs=runs,
        days=days,
        consistency=consistency,
        data_fingerprint=data_fingerprint(live.bars),
        final_cash=Decimal(consistency["ledger_cash"]),
        realized_pnl=realized,
        trade_rows=trade_rows,
        attribution={
            name: {
                "pnl": round(attribution[name], 2),
                "standalone_return": (
                    round(float((1 + window[name].fillna(0)).prod() - 1), 6)
                    if name in getattr(window, "columns", ())
                    else None
                ),
            }
            for name in names
        },
        tca=tca,
    )


class _Ledger:
    """Where the replay's ledger lives day by day: in memory (:mod:`orders.book`, written to the store
    in bulk when a TWAP day or the end comes) or in the store itself."""

    def __init__(self) -> None:
        self._stack: contextlib.ExitStack | None = None
        self.book: Book | None = None

    def use(self, *, memory: bool) -> None:
        if memory and self.book is None:
            self._stack = contextlib.ExitStack()
            self.book = self._stack.enter_context(book_open())
        elif not memory and self.book is not None:
            self.book.flush()
            self._stack.close()
            self._stack = self.book = None

    def day_orders(self, day: dt.date) -> list[tuple]:
        """(symbol, side, filled qty, filled notional, commission) of the day's orders that filled."""
        start = dt.datetime.combine(day, dt.time(0), tzinfo=NEW_YORK)
        end = start + dt.timedelta(days=1)
        if self.book is not None:  # kept in creation order: the day's are at the end
            rows = []
            for o in reversed(self.book.of(Order)):
                if o.created_at < start:
                    break
                if o.created_at < end and o.filled_qty > 0:
                    rows.append((o.symbol, o.side, o.filled_qty, o.filled_notional, o.commission))
            return rows
        return list(Order.objects.filter(created_at__gte=start, created_at__lt=end, filled_qty__gt=0)
                    .values_list("symbol", "side", "filled_qty", "filled_notional", "commission"))

    def __enter__(self) -> _Ledger:
        return self

    def __exit__(self, *exc) -> None:
        if self._stack is not None:  # an error: nothing more is written, the book is dropped
            self._stack.close()
            self._stack = self.book = None


def _slices_run(*, sim: SimulatedClock, start: dt.datetime, close: dt.datetime) -> None:
    """What the once-a-second dispatch task does live, minute by minute until the close."""

    t = start
    while t < close:
        sim.set(t)
        price_cache_clear()
        slices_dispatch_due(now=t)
        t += dt.timedelta(minutes=1)


def _signals_store(*, signal_set, run_id: str, asset_ids: dict[str, int]) -> int:
    """Store a day's signal rows (the replay's record of what it traded on)."""

    rows = signal_rows(signal_set=signal_set, run_id=run_id, asset_ids=asset_ids)
    persist_all(rows)
    return len(rows)


def _realized_total() -> Decimal:
    """The sum of the tax lots' realized gains in the store (what the report calls realized P&L)."""
    from django.db.models import Sum

    return RealizedGain.objects.aggregate(total=Sum("gain_loss"))["total"] or Decimal(0)


def _trades_and_tca() -> tuple[list[dict], dict]:
    """The filled orders (TWAP parents as one trade) and their implementation shortfall vs arrival."""

    rows = []
    cost = notional_total = Decimal(0)
    parents = {
        pk: (filled, notional)
        for pk, filled, notional in Order.objects.filter(parent_order__isnull=False, filled_qty__gt=0).values_list(
            "parent_order_id", "filled_qty", "filled_notional"
        )
    }
    totals: dict[int, tuple[Decimal, Decimal]] = {}
    for pk, (filled, notional) in parents.items():
        q, n = totals.get(pk, (Decimal(0), Decimal(0)))
        totals[pk] = (q + filled, n + notional)
    for pk, created, symbol, side, filled, notional, commission, arrival, strategy, slices in (
        Order.objects.filter(parent_order__isnull=True)
        .order_by("created_at", "pk")
        .values_list(
            "pk",
            "created_at",
            "symbol",
            "side",
            "filled_qty",
            "filled_notional",
            "commission",
            "reference_price",
            "strategy",
            "total_slices",
        )
    ):
        if slices is not None:
            filled, notional = totals.get(pk, (Decimal(0), Decimal(0)))
        if not filled:
            continue
        avg = notional / filled
        bps = shortfall_bps(side=side, arrival=arrival, avg_price=avg) if arrival else None
        if arrival:
            cost += (avg - arrival) * filled * (1 if side == "buy" else -1)
            notional_total += notional
        rows.append(
            {
                "date": created.astimezone(NEW_YORK).date().isoformat(),
                "symbol": symbol,
                "side": side,
                "qty": str(filled),
                "avg_price": str(avg.quantize(Decimal("0.0001"))),
                "notional": str(notional.quantize(Decimal("0.01"))),
                "commission": str(commission),
                "twap": slices is not None,
                "shortfall_bps": None if bps is None else str(bps),
                "strategy": strategy,
            }
        )
    tca = {
        "orders": len(rows),
        "shortfall_cost": str(cost.quantize(Decimal("0.01"))),
        "shortfall_bps": (str((cost / notional_total * 10000).quantize(Decimal("0.01"))) if notional_total else None),
        "twap_parents": sum(1 for r in rows if r["twap"]),
    }
    return rows, tca


def _consistency(*, broker, cash: Decimal, positions: dict[str, Decimal], last_day: dt.date) -> dict:
    """The ledger (positions table, simulated account) against the replay's mirror at the last close."""

    close = market_clock.session_close(last_day)
    ledger_positions = dict(Position.objects.exclude(qty=0).values_list("symbol", "qty"))
    ledger_cash = broker.get_account().cash
    positions_value = sum(
        (q * (broker.price_at(s, close) or Decimal(0)) for s, q in ledger_positions.items()), Decimal(0)
    )
    return {
        "ledger_cash": str(ledger_cash),
        "ledger_positions": {s: str(q) for s, q in sorted(ledger_positions.items())},
        "ledger_positions_value": str(positions_value),
        "ledger_equity": str(ledger_cash + positions_value),
        "mirror_cash": str(cash),
        "positions_match": ledger_positions == positions,
        "cash_match": ledger_cash == cash,
    }
