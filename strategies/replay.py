"""Replay (backtest) through the live code path, isolated from the live account.

What runs: for every NYSE session in ``[start, end]`` the simulated clock is set to the rebalance
moment (15 minutes before the close) and the *same* :func:`strategies.workflow.rebalance_run` runs
(mode ``replay``) — allocation, risk validation, :func:`~strategies.workflow.orders_plan`, the real
gateway with its pre-trade checks, the simulated exchange, fills, positions and tax lots. After the
close the leftovers are handled by the same :func:`~strategies.workflow.fills_confirm` and
:func:`~strategies.workflow.day_orders_cancel` as the market-close workflow.

Fast path (SPEC §5 budget): signals and weights of every day come from one vectorised
:func:`~strategies.services.signals_history` pass; raw bars are loaded once for the exchange; an
in-memory mirror of cash and positions decides whether a day trades, so the database is only touched
on days with orders. The equity curve is ``cash + Σ qty × close`` of each day from the mirror, which
is reconciled with the ledger at the end (``consistency``).

Isolation: everything happens inside one database transaction that is rolled back at the end. The
ledger tables (orders, fills, positions, simulated exchange, tax lots, risk state,
signals, rebalance runs, daily reports) are shadowed by empty ``TEMP`` tables of the same shape —
PostgreSQL and SQLite both resolve unqualified names to the temporary schema first — so the replay starts from an empty book
whatever the live account holds, never takes locks on live rows, and leaves no trace. The risk
controls run with the live limits but with no kill switch, breakers or rollout phase (a backtest is
not live trading), and without the wall-clock rate limiter. Market data the replay needs (the bundled
demo dataset) is loaded permanently when missing, like ``setup_demo`` does.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from django.db import connection, transaction

from orders.brokers.simulated import SimulatedBroker
from strategies import conf
from strategies.allocation import METHODS
from strategies.models import Bar, DailyPerformance, RebalanceRun, RebalanceStep, Signal, Strategy, StrategySymbol
from strategies.workflow import (
    ChainInputs,
    allocation_from_signals,
    day_orders_cancel,
    fills_confirm,
    min_trade_notional,
    orders_plan,
    rebalance_run,
    weights_of,
)
from trading_site.api.errors import DomainError
from trading_site.lib.clock import NEW_YORK, SimulatedClock, use_clock

ADV_DAYS = 20
SHADOWED_APPS = ("orders", "tax", "risk")
KEPT_CONFIG = {"risk.risklimits", "risk.rolloutphase"}


class ReplayInputError(DomainError):
    code = "validation_error"
    http_status = 400


class ReplayBroker(SimulatedBroker):
    """The simulated exchange over preloaded bars, with the replay's starting capital."""

    def __init__(self, *, capital: Decimal, bars: dict[str, tuple[list[dt.date], list]]) -> None:
        # Replay books each day's fills before the next step reads positions: inline delivery.
        super().__init__(market_hours="nyse", fill_delivery="inline")
        self.capital = capital
        self._bars = bars

    def _bar(self, symbol: str, session: dt.date):
        entry = self._bars.get(symbol)
        if entry is None:
            return super()._bar(symbol, session)
        dates, rows = entry
        i = bisect.bisect_right(dates, session) - 1
        return rows[i] if i >= 0 else None

    def _adv(self, bar) -> Decimal:
        from orders.conf import conf as orders_conf

        entry = self._bars.get(bar.symbol)
        if entry is None:
            return super()._adv(bar)
        dates, rows = entry
        i = bisect.bisect_left(dates, bar.session)
        volumes = [r.volume for r in rows[max(0, i - ADV_DAYS) : i] if r.volume]
        adv = sum(volumes, Decimal(0)) / len(volumes) if volumes else None
        return adv or bar.volume or orders_conf.sim_default_adv

    def get_account(self):
        from orders.conf import conf as orders_conf

        account = super().get_account()
        shift = self.capital - orders_conf.sim_starting_cash
        cash = account.cash + shift
        return dataclasses.replace(
            account, cash=cash, equity=account.equity + shift, buying_power=max(cash, Decimal(0))
        )


# --- isolation ------------------------------------------------------------------------------------------


def _shadowed_tables() -> list[str]:
    from django.apps import apps

    tables = []
    for label in SHADOWED_APPS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            if model._meta.label_lower not in KEPT_CONFIG:
                tables.append(model._meta.db_table)
    tables += [m._meta.db_table for m in (Signal, RebalanceRun, RebalanceStep, DailyPerformance)]
    return tables


def _shadow_postgresql(cursor, tables: list[str]) -> None:
    cursor.execute("SELECT current_schema()")
    schema = cursor.fetchone()[0]
    for table in tables:
        cursor.execute(f'CREATE TEMP TABLE "{table}" (LIKE "{schema}"."{table}" INCLUDING ALL) ON COMMIT DROP')


_SQLITE_FK = re.compile(r'\s+REFERENCES\s+"[^"]+"\s*\("[^"]+"\)(\s+DEFERRABLE INITIALLY DEFERRED)?')


def _shadow_sqlite(cursor, tables: list[str]) -> None:
    # SQLite also resolves unqualified names to the temp schema first. The copies keep the columns,
    # checks and (unique) indexes; foreign keys are dropped (a temp table cannot reference main).
    for table in tables:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s", [table])
        ddl = _SQLITE_FK.sub("", cursor.fetchone()[0]).replace("CREATE TABLE", "CREATE TEMP TABLE", 1)
        cursor.execute(ddl)
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL", [table])
        for (index_ddl,) in cursor.fetchall():
            cursor.execute(re.sub(r'^CREATE (UNIQUE )?INDEX "', r'CREATE \1INDEX temp."', index_ddl))


@contextlib.contextmanager
def scratch_ledger() -> Iterator[None]:
    """A transaction, rolled back on exit, in which the ledger tables are empty private copies."""
    if connection.vendor not in ("postgresql", "sqlite"):
        raise ReplayInputError(f"replay does not support the {connection.vendor} database")
    tables = _shadowed_tables()
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                (_shadow_postgresql if connection.vendor == "postgresql" else _shadow_sqlite)(cursor, tables)
            try:
                yield
            finally:
                transaction.set_rollback(True)
    finally:
        if connection.vendor == "sqlite" and not connection.in_atomic_block:
            # make sure no temp copy outlives the replay on this connection (DDL is rolled back, but be sure)
            with connection.cursor() as cursor:
                for table in tables:
                    cursor.execute(f'DROP TABLE IF EXISTS temp."{table}"')


@contextlib.contextmanager
def replay_risk_controls() -> Iterator[None]:
    """Run the risk controls with the live limits but no kill switch/breakers/phase; no rate limiter."""
    from orders import pretrade
    from risk import checks
    from risk.state import LimitsData, RiskState, limits_row

    state = RiskState(kill_switch_engaged=False, open_breakers=(), limits=LimitsData.from_row(limits_row()), phase=None)
    saved = dict(pretrade._checks)
    try:
        if "risk.controls" in saved:
            pretrade.register_check(
                "risk.controls", lambda intent: checks.controls_run(intent, state=state), order=saved["risk.controls"].order
            )
        pretrade.unregister_check("risk.rate_limits")
        yield
    finally:
        pretrade._checks.clear()
        pretrade._checks.update(saved)


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

    def as_json(self) -> dict:
        from strategies.performance import metrics_compute

        metrics = metrics_compute(
            equity=self.equity, traded_notional=self.traded_notional, commissions=self.commissions, trades=self.trades
        )
        bench = metrics_compute(equity=self.benchmark) if len(self.benchmark) else {}
        metrics["benchmark"] = {k: bench.get(k) for k in ("total_return", "cagr", "volatility", "sharpe", "sortino",
                                                          "max_drawdown")}
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "capital": str(self.capital),
            "strategies": self.strategies,
            "metrics": metrics,
            "equity_curve": [{"date": d.date().isoformat(), "equity": round(float(v), 2)} for d, v in self.equity.items()],
            "benchmark_curve": [
                {"date": d.date().isoformat(), "equity": round(float(v), 2)} for d, v in self.benchmark.items()
            ],
            "trades": self.trades,
            "rebalance_days": self.runs,
            "consistency": self.consistency,
        }


def _data_ensure() -> None:
    from strategies.bundled import bundled_load

    if not Bar.objects.exists():  # an empty database: the bundled demo dataset is what there is to replay
        bundled_load(dataset="demo")


def _strategies_ensure(names: list[str] | None) -> list[str]:
    """The named strategies, else the enabled ones, else one of each kind with default parameters (created
    inside the rolled-back transaction)."""
    from strategies.bundled import demo_symbols
    from strategies.demo import DEMO_STRATEGIES
    from strategies.services import strategy_create

    defaults = {name: (kind, params) for name, kind, params in DEMO_STRATEGIES}
    if names:
        wanted = sorted(names)
    else:
        enabled = list(Strategy.objects.filter(enabled=True).order_by("name").values_list("name", flat=True))
        if enabled:
            return enabled
        wanted = list(defaults)
    missing = sorted(set(wanted) - set(Strategy.objects.filter(name__in=wanted).values_list("name", flat=True)))
    unknown = [name for name in missing if name not in defaults]
    if unknown:
        raise ReplayInputError(f"unknown strategy {unknown[0]!r}", fields={"strategies": missing})
    symbols = demo_symbols() if missing else []
    for name in missing:
        kind, params = defaults[name]
        strategy_create(actor=None, name=name, kind=kind, parameters=params, symbols=symbols, reason="replay")
    return wanted


def _bars_preload(*, symbols: list[str], start: dt.date, end: dt.date) -> dict[str, tuple[list[dt.date], list]]:
    from strategies.selectors import BarData

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


def replay_run(
    *,
    start: dt.date,
    end: dt.date,
    symbols: list[str] | None = None,
    strategies: list[str] | None = None,
    capital: Decimal = Decimal("100000"),
    method: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Replay ``[start, end]`` through the live workflow in an isolated, rolled-back scratch ledger."""
    from risk import market_clock

    if start > end:
        raise ReplayInputError("start must not be after end", fields={"start": start.isoformat()})
    if not capital.is_finite() or capital <= 0:
        raise ReplayInputError("capital must be a positive amount", fields={"capital": str(capital)})
    method = method or conf.ALLOCATION_METHOD
    if method not in METHODS:
        raise ReplayInputError(f"unknown method {method!r}", fields={"method": f"one of {', '.join(METHODS)}"})
    sessions = [d for d in market_clock.sessions_window(ending=end, count=100_000) if d >= start]
    if not sessions:
        raise ReplayInputError("no NYSE session in the range", fields={"start": start.isoformat()})
    _data_ensure()
    with scratch_ledger(), replay_risk_controls(), _quiet("strategies.allocation"):
        names = _strategies_ensure(strategies)
        if symbols:
            wanted = {s.upper() for s in symbols}
            known = set(StrategySymbol.objects.filter(strategy__name__in=names).values_list("asset__symbol", flat=True))
            if wanted - known:
                raise ReplayInputError(
                    f"not in the strategies' universes: {', '.join(sorted(wanted - known))}",
                    fields={"symbols": sorted(wanted - known)},
                )
            StrategySymbol.objects.filter(strategy__name__in=names).exclude(asset__symbol__in=wanted).update(enabled=False)
        return _replay_loop(sessions=sessions, names=names, capital=capital, method=method, progress=progress)


def _replay_loop(
    *, sessions: list[dt.date], names: list[str], capital: Decimal, method: str,
    progress: Callable[[int, int], None] | None,
) -> ReplayResult:
    from orders.brokers import use_broker
    from orders.models import Order
    from orders.selectors import price_cache_clear
    from risk import market_clock, orders_port
    from strategies.marketdata import benchmark_close_series
    from strategies.services import signals_history

    start, end = sessions[0], sessions[-1]
    history = signals_history(start=start, end=end, strategies=names)
    universe = sorted({s for syms in history.universes.values() for s in syms})
    bars = _bars_preload(symbols=universe, start=start, end=end)
    caps = {n: float(c) for n, c in Strategy.objects.filter(name__in=names).values_list("name", "capital_cap")}
    fractionable: frozenset[str] = frozenset()
    if conf.REBALANCE_FRACTIONAL:
        from strategies.models import Asset

        fractionable = frozenset(Asset.objects.filter(fractionable=True, symbol__in=universe).values_list("symbol", flat=True))
    broker = ReplayBroker(capital=capital, bars=bars)
    sim = SimulatedClock(dt.datetime.combine(start, dt.time(9, 30), tzinfo=NEW_YORK))
    gross = float(conf.ALLOCATION_GROSS)

    cash = capital
    positions: dict[str, Decimal] = {}
    equity_by_day: dict[pd.Timestamp, float] = {}
    days: dict[dt.date, dict] = {}
    traded = commissions = Decimal(0)
    trades = runs = 0

    def price_at(symbol: str, now: dt.datetime) -> Decimal | None:
        _, last, _ = broker._price_now(symbol, now)
        return last

    with use_clock(sim), use_broker(broker):
        for i, day in enumerate(sessions):
            moment = market_clock.session_close(day) - dt.timedelta(minutes=conf.REBALANCE_MINUTES_BEFORE_CLOSE)
            sim.set(moment)
            signal_set = history.at(day)
            weights: dict[str, float] = {}
            if signal_set.signals:
                allocation = allocation_from_signals(
                    signal_set=signal_set, method=method, gross=gross, caps=caps, alert_correlation=False
                )
                weights = weights_of(allocation)
            symbols_now = sorted(set(weights) | set(positions))
            prices = {s: p for s in symbols_now if (p := price_at(s, moment)) is not None}
            equity = cash + sum((q * prices.get(s, Decimal(0)) for s, q in positions.items()), Decimal(0))
            planned = orders_plan(
                targets=weights, equity=equity, prices=prices, positions=dict(positions), pending={},
                fractionable=fractionable, min_notional=min_trade_notional(equity=equity),
            )
            if planned:
                price_cache_clear()
                orders_port.account_cache_clear()
                frozen = (equity, dict(positions), prices, signal_set)
                inputs = ChainInputs(
                    check_data=lambda d: {"source": "replay"},
                    signals=lambda d, s=frozen[3]: s,
                    record_signals=lambda d, run_id, s=signal_set: _signals_store(signal_set=s, run_id=run_id),
                    caps=lambda: caps,
                    ledger=lambda _symbols, f=frozen: (f[0], f[1], {}, f[2]),
                    fractionable=lambda: fractionable,
                    risk_blocked=lambda: "",
                    rate_full=lambda: False,  # replay runs without the live order-rate windows
                    alert_correlation=False,
                )
                run = rebalance_run(day=day, method=method, gross=gross, mode=RebalanceRun.Mode.REPLAY, inputs=inputs)
                runs += 1
                if conf.REBALANCE_TWAP_NOTIONAL > 0 and any(p.notional > conf.REBALANCE_TWAP_NOTIONAL for p in planned):
                    _slices_run(sim=sim, start=moment, close=market_clock.session_close(day))
                sim.set(market_clock.session_close(day) - dt.timedelta(seconds=1))
                fills_confirm(broker=broker)
                sim.set(market_clock.session_close(day) + dt.timedelta(minutes=5))
                day_orders_cancel()
                start_ny = dt.datetime.combine(day, dt.time(0), tzinfo=NEW_YORK)
                for symbol, side, filled, notional, commission in Order.objects.filter(
                    created_at__gte=start_ny, created_at__lt=start_ny + dt.timedelta(days=1), filled_qty__gt=0
                ).values_list("symbol", "side", "filled_qty", "filled_notional", "commission"):
                    sign = 1 if side == "buy" else -1
                    positions[symbol] = positions.get(symbol, Decimal(0)) + sign * filled
                    cash -= sign * notional + commission
                    traded += notional
                    commissions += commission
                    trades += 1
                positions = {s: q for s, q in positions.items() if q != 0}
                days[day] = {
                    "signals": {name: dict(zip(frame["symbol"], frame["weight"].astype(float), strict=True))
                                for name, frame in signal_set.signals.items()},
                    "weights": weights,
                    "orders": [p.as_dict() for p in getattr(run, "planned", [])],
                    "status": run.status,
                }
            close_prices = {s: price_at(s, market_clock.session_close(day)) for s in positions}
            equity_by_day[pd.Timestamp(day)] = float(
                cash + sum((q * (close_prices[s] or Decimal(0)) for s, q in positions.items()), Decimal(0))
            )
            if progress is not None:
                progress(i + 1, len(sessions))
        consistency = _consistency(broker=broker, cash=cash, positions=positions, last_day=end, price_at=price_at)

    equity = pd.Series(equity_by_day, dtype=float)
    bench = benchmark_close_series(start=start, end=end).astype(float)
    bench = bench[bench.index >= pd.Timestamp(start)]
    benchmark = bench / bench.iloc[0] * float(capital) if len(bench) else pd.Series(dtype=float)
    return ReplayResult(
        start=start, end=end, capital=capital, strategies=names, equity=equity, benchmark=benchmark,
        trades=trades, traded_notional=traded, commissions=commissions, runs=runs, days=days,
        consistency=consistency,
    )


def _slices_run(*, sim: SimulatedClock, start: dt.datetime, close: dt.datetime) -> None:
    """What the once-a-second dispatch task does live, minute by minute until the close."""
    from orders.selectors import price_cache_clear
    from orders.slicing import slices_dispatch_due

    t = start
    while t < close:
        sim.set(t)
        price_cache_clear()
        slices_dispatch_due(now=t)
        t += dt.timedelta(minutes=1)


def _signals_store(*, signal_set, run_id: str) -> int:
    """Store a day's signal rows (the replay's record of what it traded on)."""
    from strategies.services import signal_rows

    rows = signal_rows(signal_set=signal_set, run_id=run_id)
    Signal.objects.bulk_create(rows)
    return len(rows)


def _consistency(*, broker, cash: Decimal, positions: dict[str, Decimal], last_day: dt.date, price_at) -> dict:
    """The ledger (positions table, simulated account) against the replay's mirror at the last close."""
    from orders.models import Position
    from risk import market_clock

    close = market_clock.session_close(last_day)
    ledger_positions = dict(Position.objects.exclude(qty=0).values_list("symbol", "qty"))
    ledger_cash = broker.get_account().cash
    positions_value = sum(
        (q * (price_at(s, close) or Decimal(0)) for s, q in ledger_positions.items()), Decimal(0)
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
