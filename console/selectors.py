"""Reads for the console pages: small, query-counted compositions of the apps' selectors.

Every page has a fixed number of database queries whatever the number of orders or positions
(pinned by ``django_assert_num_queries`` in the tests): positions come in one query with quotes from
the orders app's per-second price cache, orders are paginated with their TWAP children fetched in one
query per page, and risk state is the risk app's cached snapshot. Writes never happen here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd
from auditlog.models import LogEntry
from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Q, QuerySet

from console import attribution, charts
from marketdata.bundled import BENCHMARK_SYMBOL
from marketdata.models import Asset, Bar
from marketdata.panels import close_panel
from marketdata.selectors import asset_get, latest_daily_bar
from orders.brokers import get_broker
from orders.brokers.base import BrokerError
from orders.gateway import OrderInputError, intent_build, order_validate
from orders.models import TERMINAL_STATUSES, AccountSnapshot, Fill, Order, OrderEvent, OrderSource, OrderStatus
from orders.pretrade import dry_run
from orders.selectors import (
    PositionData,
    account_live,
    last_price,
    ledger_pnl,
    orders_list,
    position_get,
    positions_list,
)
from orders.slicing import twap_parent_intent
from orders.tca import parent_tca, symbol_adv
from orders.twap import TWAPPlanError, TWAPSlicer
from risk.selectors import (
    breakers_status,
    equity_watermark,
    kill_switch_status,
    limits_usage,
    risk_events_recent,
    rollout_status,
)
from risk.state import risk_state
from strategies.models import Signal, Strategy
from strategies.selectors import signal_latest_run_id, signals_for_run, strategy_list
from strategies.services import allocation_preview
from tax.models import TaxExport
from tax.selectors import wash_sale_preview
from trading_site.health import health_report
from trading_site.lib import clock
from trading_site.lib.actors import Actor
from trading_site.lib.errors import DomainError
from trading_site.lib.money import quantize_money
from trading_site.models import ActionLog, Alert
from workflow.models import DailyPerformance, RebalanceRun, RebalanceStep

ZERO = Decimal(0)
ORDERS_PER_PAGE = 25
AUDIT_PER_PAGE = 50
EQUITY_POINTS = 500


# --- dashboard ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """The live figures (refreshed every few seconds by htmx)."""

    as_of: dt.datetime
    equity: Decimal | None
    cash: Decimal | None
    buying_power: Decimal | None
    account_time: dt.datetime | None
    day_pnl: Decimal | None
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    total_pnl: Decimal
    market_value: Decimal
    positions: list[PositionData]
    unpriced: int  # open positions without a quote (their unrealized P&L is unknown)
    kill_switch_engaged: bool
    open_breakers: tuple[str, ...]
    rollout_phase: int | None
    rollout_phase_name: str


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight in New York at the start of ``day``: the console's dates are New York days."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=clock.NEW_YORK)


def _day_bounds(start: dt.date | None, end: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``[start, end]`` in New York days as a half-open datetime range; None for an open side."""
    return (_day_start(start) if start else None, _day_start(end + dt.timedelta(days=1)) if end else None)


def _within_days(qs: QuerySet, field: str, start: dt.date | None, end: dt.date | None) -> QuerySet:
    lo, hi = _day_bounds(start, end)
    if lo:
        qs = qs.filter(**{f"{field}__gte": lo})
    if hi:
        qs = qs.filter(**{f"{field}__lt": hi})
    return qs


def figures(*, now: dt.datetime | None = None) -> Figures:
    """The live figures: the ledger's live account (``orders.selectors.account_live``), the same the API
    and ``monitor`` report; realized/unrealized P&L from the positions even before the first snapshot."""
    now = now or clock.now()
    account = account_live(now=now)
    pnl = ledger_pnl() if account is None else account
    state = risk_state()
    phase = state.limits.rollout_phase
    market_value = sum((p.market_value for p in pnl.positions if p.market_value is not None), ZERO)
    return Figures(
        as_of=now,
        equity=account.equity if account else None,
        cash=account.cash if account else None,
        buying_power=account.buying_power if account else None,
        account_time=account.snapshot_time if account else None,
        day_pnl=account.day_pnl if account else None,
        realized_pnl=pnl.realized_pnl,
        unrealized_pnl=pnl.unrealized_pnl,
        total_pnl=pnl.total_pnl,
        market_value=quantize_money(market_value),
        positions=list(pnl.positions),
        unpriced=pnl.unpriced,
        kill_switch_engaged=state.kill_switch_engaged,
        open_breakers=state.open_breakers,
        rollout_phase=phase,
        rollout_phase_name=state.phase.name if state.phase else "",
    )


def equity_points(*, points: int = EQUITY_POINTS) -> list[tuple[dt.datetime, Decimal]]:
    """The last ``points`` account snapshots, oldest first (history: the live figures are the ledger's)."""
    rows = list(AccountSnapshot.objects.order_by("-time", "-pk").values_list("time", "equity")[:points])
    rows.reverse()
    return rows


def benchmark_closes(*, start: dt.date, end: dt.date) -> list[tuple[dt.date, Decimal]]:
    """The benchmark's daily closes over ``[start, end]`` (one query; empty without benchmark bars)."""

    return list(Bar.objects.filter(asset__symbol=BENCHMARK_SYMBOL, session__gte=start, session__lte=end)
                .order_by("session").values_list("session", "close"))


def dashboard_charts(*, now: dt.datetime) -> dict:
    """The dashboard's chart specs (console.charts): equity against the benchmark, drawdown, open
    positions by symbol and exposure against the risk limits (three queries)."""

    equity = equity_points()
    bench = benchmark_closes(start=equity[0][0].date() - dt.timedelta(days=7), end=now.date()) if equity else []
    pnl = ledger_pnl()
    limits = risk_state().limits
    values = [(p.symbol, abs(p.market_value if p.market_value is not None else p.qty * p.avg_cost))
              for p in pnl.positions]
    gross = sum((v for _, v in values), ZERO)
    by_symbol = [(s, v / gross * 100) for s, v in values] if gross else []
    exposure = [(s, v, limits.max_position_notional) for s, v in sorted(values)]
    exposure.append(("Gross", gross, limits.max_gross_exposure))
    return {
        "equity": charts.equity_vs_benchmark(equity, bench, benchmark_label=BENCHMARK_SYMBOL),
        "drawdown": charts.drawdown(equity),
        "by_symbol": charts.allocation(by_symbol, label="Share of gross exposure"),
        "exposure": charts.exposure_vs_limits(exposure),
    }


def strategies_status() -> list[dict]:
    """Strategies with how many of their symbols are enabled (one query)."""
    return list(
        Strategy.objects.order_by("name")
        .annotate(
            symbols_total=Count("symbols"),
            symbols_enabled=Count("symbols", filter=Q(symbols__enabled=True)),
        )
        .values("id", "name", "kind", "enabled", "capital_cap", "symbols_total", "symbols_enabled")
    )


def alerts_active(*, limit: int = 10) -> list[Alert]:
    return list(Alert.objects.filter(acknowledged_at__isnull=True).order_by("-created_at", "-pk")[:limit])


def performance_latest() -> DailyPerformance | None:
    """The latest market-close report (daily P&L, cumulative return, drawdown), or None."""

    return DailyPerformance.objects.order_by("-day").first()


def dashboard_context() -> dict:
    """Everything on the dashboard except the live figures (see :func:`figures`, cached by the view)."""
    ok, report = health_report()
    return {
        "charts": dashboard_charts(now=clock.now()),
        "performance": performance_latest(),
        "strategies": strategies_status(),
        "alerts": alerts_active(),
        "health_ok": ok,
        "health": report,
    }


# --- orders ---------------------------------------------------------------------------------------


@dataclass
class ParentProgress:
    """A TWAP parent's children, progress, aggregate status and TCA (``orders.tca.parent_tca``)."""

    children: list[Order]
    pct: int
    status: str  # pending (a slice still scheduled) / active / complete (every slice terminal)
    tca: object  # orders.tca.ParentTCA
    by_status: dict[str, int] = field(default_factory=dict)


def _progress(parent: Order, children: list[Order], adv: Decimal) -> ParentProgress:
    tca = parent_tca(parent=parent, children=children, adv=adv)
    by_status: dict[str, int] = {}
    for c in children:
        by_status[c.status] = by_status.get(c.status, 0) + 1
    if by_status.get(OrderStatus.SCHEDULED):
        status = "pending"
    elif all(c.status in TERMINAL_STATUSES for c in children):
        status = "complete"
    else:
        status = "active"
    pct = int(min(tca.filled_qty / parent.qty, Decimal(1)) * 100) if parent.qty else 0
    return ParentProgress(children, pct, status, tca, by_status)


def orders_page(
    *,
    status: str | None = None,
    symbol: str | None = None,
    source: str | None = None,
    side: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    page_number: int | str = 1,
) -> Page:
    """Top-level orders (children are shown under their parent), newest first; ``start``/``end`` are New
    York days, both included. Each order carries ``progress``: its :class:`ParentProgress` when it is a
    TWAP parent, else None.

    Three queries per page, plus two per distinct symbol among the page's TWAP parents (the ADV behind
    the TCA's single-order estimate).
    """
    created_from, created_to = _day_bounds(start, end)
    qs = orders_list(status=status, symbol=symbol, source=source, created_from=created_from, created_to=created_to)
    qs = qs.filter(parent_order__isnull=True).select_related("created_by")
    if side:
        qs = qs.filter(side=side)
    page = Paginator(qs, ORDERS_PER_PAGE).get_page(page_number)
    orders = list(page.object_list)
    ids = [o.pk for o in orders]
    grouped: dict[int, list[Order]] = {}
    for child in Order.objects.filter(parent_order_id__in=ids).order_by("parent_order_id", "slice_num", "pk"):
        grouped.setdefault(child.parent_order_id, []).append(child)

    adv: dict[str, Decimal] = {}  # two queries per distinct symbol of the page's TWAP parents
    for o in orders:
        if o.pk in grouped and o.symbol not in adv:
            adv[o.symbol] = symbol_adv(symbol=o.symbol)
    for o in orders:
        o.progress = _progress(o, grouped[o.pk], adv[o.symbol]) if o.pk in grouped else None
    page.object_list = orders
    return page


# --- order page (issue 21) ------------------------------------------------------------------------

PRICE_SESSIONS = 250  # daily bars on an order's price chart
FILL_MARKERS = 500  # the symbol's latest fills drawn on it


def _session_close_time(day: dt.date) -> dt.datetime:
    """A daily bar drawn at its session's close (16:00 New York) on a time axis shared with fills."""
    return dt.datetime.combine(day, dt.time(16), tzinfo=clock.NEW_YORK)


def symbol_price_chart(*, symbol: str) -> dict | None:
    """The symbol's daily closes with its fills as buy/sell markers (two queries)."""

    bars = list(Bar.objects.filter(asset__symbol=symbol).order_by("-session").values_list("session", "close")
                [:PRICE_SESSIONS])
    bars.reverse()
    fills = list(Fill.objects.filter(symbol=symbol).order_by("-executed_at", "-pk")
                 .values_list("executed_at", "side", "price")[:FILL_MARKERS])
    path = [(_session_close_time(day), close) for day, close in bars]
    return charts.price_with_fills(path, fills, symbol=symbol)


def twap_chart(*, parent: Order, children: list[Order], fills: list) -> dict | None:
    """A TWAP parent's slices against the symbol's fills around it (the price path) and its arrival price."""

    by_child: dict[int, list] = {}
    for f in fills:
        by_child.setdefault(f.order_id, []).append(f)
    points, filled = [], ZERO
    for c in sorted(children, key=lambda c: (c.scheduled_time or c.created_at, c.pk)):
        for f in by_child.get(c.pk, []):
            filled += f.qty
            points.append((f.executed_at, f.price, filled))
        if not by_child.get(c.pk):
            points.append((c.scheduled_time or c.created_at, None, filled))
    if not points:
        return None
    start, end = points[0][0], points[-1][0]
    pad = max((end - start) / 10, dt.timedelta(minutes=1))
    path = list(Fill.objects.filter(symbol=parent.symbol, executed_at__gte=start - pad, executed_at__lte=end + pad)
                .order_by("executed_at", "pk").values_list("executed_at", "price")[:FILL_MARKERS])
    return charts.twap_slices(points, path=path, arrival=parent.reference_price)


def order_page(*, order_id: int) -> dict | None:
    """One order with its fills, events, TWAP children (progress, TCA, slices chart) and its symbol's
    price chart with fill markers; None when it does not exist. Eight queries for a TWAP parent."""

    order = Order.objects.select_related("created_by", "parent_order").filter(pk=order_id).first()
    if order is None:
        return None
    children = list(Order.objects.filter(parent_order_id=order.pk).order_by("slice_num", "pk"))
    ids = [order.pk, *(c.pk for c in children)]
    fills = list(Fill.objects.filter(order_id__in=ids).order_by("executed_at", "pk"))
    events = list(OrderEvent.objects.filter(order_id=order.pk).select_related("actor").order_by("created_at", "pk"))
    progress = _progress(order, children, symbol_adv(symbol=order.symbol)) if children else None
    return {
        "order": order,
        "children": children,
        "progress": progress,
        "fills": fills,
        "events": events,
        "price_chart": symbol_price_chart(symbol=order.symbol),
        "twap_chart": twap_chart(parent=order, children=children, fills=fills) if children else None,
    }


# --- manual order preview -------------------------------------------------------------------------


@dataclass(frozen=True)
class DatedQuote:
    """The latest quote with its dates: when it was taken and the session of the bar it comes from (the
    simulated exchange quotes the latest stored bar; a demo market shows that bar's original date)."""

    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    time: dt.datetime
    session: dt.date | None


def quote_dated(*, symbol: str) -> DatedQuote | None:
    """The broker's latest quote for ``symbol`` and the session of its latest daily bar (one query)."""

    try:
        quote = get_broker().latest_quote(symbol)
    except BrokerError:
        return None
    if quote is None:
        return None
    bar = latest_daily_bar(symbol=symbol, on_or_before=clock.today_ny())
    return DatedQuote(symbol=quote.symbol, bid=quote.bid, ask=quote.ask, last=quote.last, time=quote.time,
                      session=bar.session if bar else None)


def tradable_symbols() -> list[tuple[str, str]]:
    """Known tradable assets ``(symbol, name)`` for the order ticket's symbol search (one query)."""

    return list(Asset.objects.filter(tradable=True).order_by("symbol").values_list("symbol", "name"))


@dataclass
class CheckResult:
    name: str
    ok: bool
    code: str = ""
    detail: str = ""


@dataclass
class OrderPreview:
    symbol: str
    side: str
    qty: Decimal
    order_type: str
    limit_price: Decimal | None
    time_in_force: str
    last_price: Decimal | None
    notional: Decimal | None
    checks: list[CheckResult]
    wash_detail: str
    wash_warning: bool
    quote: DatedQuote | None = None
    position_qty: Decimal = ZERO  # the symbol's position now (signed)
    position_after: Decimal = ZERO  # and once this order has filled
    buying_power: Decimal | None = None  # the live account's (None before the first snapshot)
    buying_power_after: Decimal | None = None
    twap_slices: int | None = None
    twap_horizon_minutes: Decimal | None = None
    twap_first_slice_qty: Decimal | None = None
    twap_interval_seconds: float | None = None


# How the console names the pre-trade pipeline's checks (ops/wiring.py lists them); a check not
# named here shows under its registered name.
CHECK_LABELS = {"risk.controls": "Risk controls", "wash_sale": "Wash-sale block", "risk.rate_limits": "Rate limits"}
CHECK_PASSED_DETAIL = {
    "risk.controls": "kill switch, breakers, market hours, notional, exposure, price band, buying power, rollout phase",
    "wash_sale": "refuses wash sales only when TAX_WASH_SALE_BLOCK is on",
    "risk.rate_limits": "orders and broker requests in the last minute (a preview counts nothing)",
}


def order_preview(*, symbol: str, side: str, qty: object, order_type: str, limit_price: object,
                  time_in_force: str, actor: Actor, slices: int | None = None,
                  horizon_minutes: Decimal | None = None) -> OrderPreview:
    """Validate like the gateway, then run the one pre-trade pipeline in preview
    (:func:`orders.pretrade.dry_run`: every check, nothing stored, sent or counted) and the wash-sale
    preview, without placing anything. The gateway runs every check again when the order is
    confirmed (for a TWAP order: on the whole parent when it is created, as previewed here, and again
    when each slice is sent).
    """

    v = order_validate(symbol=symbol, side=side, qty=qty, order_type=order_type, limit_price=limit_price,
                       time_in_force=time_in_force, source=OrderSource.MANUAL)
    now = clock.now()
    plan = None
    if slices is not None:
        asset = asset_get(symbol=v.symbol)
        try:
            plan = TWAPSlicer(total_qty=v.qty, n_slices=slices, horizon=dt.timedelta(minutes=float(horizon_minutes)),
                              min_lot=asset.min_lot if asset else None).plan(now)
        except TWAPPlanError as exc:
            raise OrderInputError("slices", str(exc)) from exc
    try:
        price = last_price(symbol=v.symbol)
    except BrokerError:
        price = None
    basis = v.limit_price or price
    notional = quantize_money(v.qty * basis) if basis is not None else None
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    if plan:  # the whole parent, as its creation checks it
        intent = twap_parent_intent(symbol=v.symbol, side=v.side, qty=v.qty, order_type=v.order_type,
                                    limit_price=v.limit_price, source=OrderSource.MANUAL, planned=plan, start=now,
                                    reference_price=price, actor_id=actor_id)
    else:
        intent = intent_build(symbol=v.symbol, side=v.side, qty=v.qty, order_type=v.order_type,
                              time_in_force=v.time_in_force, source=OrderSource.MANUAL, now=now,
                              limit_price=v.limit_price, reference_price=price, actor_id=actor_id)
    whole = f" (whole TWAP order, {v.qty.normalize():f} shares)" if plan else ""
    checks = [
        CheckResult(CHECK_LABELS.get(o.name, o.name) + whole, o.ok, code=o.code,
                    detail=o.detail if not o.ok else CHECK_PASSED_DETAIL.get(o.name, ""))
        for o in dry_run(intent)
    ]
    wash_detail, wash_warning = "", False
    if basis is not None:
        try:
            wash = wash_sale_preview(symbol=v.symbol, side=v.side, qty=v.qty, price=basis, now=now)
            wash_detail, wash_warning = wash.detail, wash.would_wash
        except DomainError as exc:
            wash_detail = str(exc.detail)
    else:
        wash_detail = "No price: the wash-sale preview needs a last or limit price."

    position = position_get(symbol=v.symbol)
    held = position.qty if position else ZERO
    signed = v.qty if v.side == "buy" else -v.qty
    account = account_live(now=now)
    bp = account.buying_power if account else None
    bp_after = None
    if bp is not None and notional is not None:
        bp_after = quantize_money(bp - notional if v.side == "buy" else bp + notional)
    return OrderPreview(
        symbol=v.symbol, side=v.side, qty=v.qty, order_type=v.order_type, limit_price=v.limit_price,
        time_in_force=v.time_in_force, last_price=price, notional=notional, checks=checks,
        wash_detail=wash_detail, wash_warning=wash_warning,
        quote=quote_dated(symbol=v.symbol), position_qty=held, position_after=held + signed,
        buying_power=bp, buying_power_after=bp_after,
        twap_slices=len(plan) if plan else None,
        twap_horizon_minutes=horizon_minutes if plan else None,
        twap_first_slice_qty=plan[0].qty if plan else None,
        twap_interval_seconds=(plan[1].scheduled_time - plan[0].scheduled_time).total_seconds()
        if plan and len(plan) > 1 else None,
    )


# --- strategies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StrategyCards:
    """The strategies page's table: one row per strategy (its toggles, signals and figures) and the
    part of the book no strategy's latest signals claim (see ``console.attribution``)."""

    rows: list[dict]
    unattributed_pnl: Decimal
    unattributed_exposure: Decimal
    total_pnl: Decimal
    gross_exposure: Decimal
    latest_run: str | None
    unpriced: int  # open positions without a quote (their unrealized P&L is not in the figures)


SIGNAL_WINDOW_DAYS = attribution.SHARPE_SESSIONS * 7 // 5 + 10  # calendar days holding the Sharpe's sessions


def _signal_rows_recent(last: dict[int, dt.date]) -> list[tuple]:
    """Each strategy's signal rows of the ``SIGNAL_WINDOW_DAYS`` up to its last signal (one query):
    ``(strategy_id, run_id, session, symbol, target_weight, created_at)``."""
    if not last:
        return []
    wanted = Q()
    for strategy_id, day in last.items():
        wanted |= Q(strategy_id=strategy_id, session__gte=day - dt.timedelta(days=SIGNAL_WINDOW_DAYS))
    return list(Signal.objects.filter(wanted).order_by("strategy_id", "session", "created_at", "run_id")
                .values_list("strategy_id", "run_id", "session", "asset__symbol", "target_weight", "created_at"))


def _runs_by_session(rows: list[tuple]) -> dict[int, dict[dt.date, list[tuple[str, Decimal]]]]:
    """``{strategy_id: {session: [(symbol, weight)...]}}`` keeping, per session, the latest run only."""
    chosen: dict[tuple[int, dt.date], tuple[dt.datetime, str]] = {}
    for strategy_id, run_id, session, _, _, created_at in rows:
        key = (strategy_id, session)
        if key not in chosen or (created_at, run_id) > chosen[key]:
            chosen[key] = (created_at, run_id)
    out: dict[int, dict[dt.date, list[tuple[str, Decimal]]]] = {}
    for strategy_id, run_id, session, symbol, weight, _ in rows:
        if chosen[(strategy_id, session)][1] == run_id:
            out.setdefault(strategy_id, {}).setdefault(session, []).append((symbol, weight))
    return out


def strategy_cards() -> StrategyCards:
    """Strategies with their symbols, the latest signal run's rows, and per strategy its P&L and
    exposure (its share of the ledger's, ``console.attribution``), the Sharpe of its own signals and
    its last signal with the session date. Nine queries, plus the quotes of the open positions
    (cached for a second)."""
    rows = strategy_list()  # two queries
    latest_rows: dict[str, list[dict]] = {}
    latest = signal_latest_run_id()
    if latest:
        for s in signals_for_run(run_id=latest):
            latest_rows.setdefault(s["strategy_name"], []).append(s)
    shares = attribution.symbol_shares({name: {s["symbol"]: s["target_weight"] for s in signals}
                                        for name, signals in latest_rows.items()})
    pnl = ledger_pnl()
    every = positions_list(include_flat=True)  # the realized P&L of closed positions too
    symbol_pnl = {p.symbol: p.realized_pnl + (p.unrealized_pnl or ZERO) for p in every}
    symbol_exposure = {p.symbol: p.market_value if p.market_value is not None else p.qty * p.avg_cost
                       for p in pnl.positions}
    split = attribution.attribute(shares=shares, symbol_pnl=symbol_pnl, symbol_exposure=symbol_exposure,
                                  total_pnl=pnl.total_pnl)
    last = dict(Signal.objects.values("strategy_id").annotate(last=Max("session")).values_list("strategy_id", "last"))
    runs = _runs_by_session(_signal_rows_recent(last))
    symbols = sorted({sym for by_day in runs.values() for day_rows in by_day.values() for sym, _ in day_rows})
    start = min((min(by_day) for by_day in runs.values()), default=None)
    prices = close_panel(symbols=symbols, start=start, adjusted=True) if symbols else pd.DataFrame()
    cards = []
    for r in rows:
        by_day = runs.get(r["id"], {})
        recent = [(day, sym, w) for day, day_rows in sorted(by_day.items()) for sym, w in day_rows]
        sharpe, sharpe_days = attribution.signal_sharpe(signals=recent, prices=prices)
        last_day = last.get(r["id"])
        targets = sorted(((w, sym) for sym, w in by_day.get(last_day, []) if w > 0), key=lambda t: (-t[0], t[1]))
        cards.append(r | {
            "signals": latest_rows.get(r["name"], []),
            "pnl": split.pnl.get(r["name"], ZERO),
            "exposure": split.exposure.get(r["name"], ZERO),
            "exposure_share": split.exposure[r["name"]] / split.gross_exposure * 100
            if split.gross_exposure and r["name"] in split.exposure else None,
            "sharpe": sharpe,
            "sharpe_days": sharpe_days,
            "last_signal_session": last_day,
            "last_signal_targets": [(sym, w) for w, sym in targets],
        })
    return StrategyCards(rows=cards, unattributed_pnl=split.unattributed_pnl,
                         unattributed_exposure=split.unattributed_exposure, total_pnl=split.total_pnl,
                         gross_exposure=split.gross_exposure, latest_run=latest, unpriced=pnl.unpriced)


def allocation_for_page(*, method: str, as_of: dt.date | None) -> dict:
    """The allocation preview as template rows, or the error the service raised."""

    try:
        outcome = allocation_preview(method=method, as_of=as_of)
    except DomainError as exc:
        return {"error": str(exc.detail), "weights": [], "by_strategy": [], "excluded": {}}
    alloc = outcome.allocation
    weights = [
        {"symbol": r.symbol, "weight": Decimal(str(round(float(r.final_weight), 6))),
         "strategies": ", ".join(r.contributing_strategies)}
        for r in alloc.weights.itertuples(index=False)
    ]
    by_strategy = [
        {"strategy": r.strategy, "weight": Decimal(str(round(float(r.strategy_weight), 6)))}
        for r in alloc.by_strategy.itertuples(index=False)
    ]
    return {
        "error": "",
        "chart_by_strategy": charts.allocation([(r["strategy"], r["weight"] * 100) for r in by_strategy],
                                               label="Weight %"),
        "chart_by_symbol": charts.allocation([(r["symbol"], r["weight"] * 100) for r in weights], label="Weight %"),
        "as_of": outcome.as_of,
        "session": outcome.session,
        "method": alloc.method,
        "weights": weights,
        "by_strategy": by_strategy,
        "excluded": dict(sorted(alloc.excluded.items())),
        "cap_feasible": alloc.cap_feasible,
    }


# --- rebalance runs -------------------------------------------------------------------------------

RUNS_PER_PAGE = 20


def runs_page(*, mode: str | None = None, status: str | None = None, page_number: int | str = 1) -> Page:
    """Rebalance runs, newest day first, each with its steps in chain order (3 queries per page)."""

    qs = RebalanceRun.objects.order_by("-day", "-pk")
    if mode:
        qs = qs.filter(mode=mode)
    if status:
        qs = qs.filter(status=status)
    page = Paginator(qs, RUNS_PER_PAGE).get_page(page_number)
    runs = list(page.object_list)
    steps: dict[int, list] = {r.pk: [] for r in runs}
    for step in RebalanceStep.objects.filter(run_id__in=list(steps)).order_by("run_id", "position"):
        steps[step.run_id].append(step)
    for run in runs:
        run.step_list = steps[run.pk]
    page.object_list = runs
    return page


# --- risk -----------------------------------------------------------------------------------------


def risk_context(*, now: dt.datetime | None = None) -> dict:
    now = now or clock.now()
    state = risk_state()
    return {
        "kill_switch": kill_switch_status(),
        "breakers": breakers_status(),
        "limits": state.limits,
        "usage": limits_usage(now=now),
        "rollout": rollout_status(),
        "watermark": equity_watermark(),
        "events": risk_events_recent(limit=20),
    }


# --- audit ----------------------------------------------------------------------------------------


def actions_query(*, actor: str = "", action: str = "", object_type: str = "", start: dt.date | None = None,
                  end: dt.date | None = None) -> QuerySet[ActionLog]:
    """Explicit actions; ``action`` matches a prefix (``order.`` finds every order action). Dates are New York days."""
    qs = ActionLog.objects.select_related("actor").order_by("-created_at", "-pk")
    if actor:
        qs = qs.filter(actor__username=actor)
    if action:
        qs = qs.filter(action__startswith=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    return _within_days(qs, "created_at", start, end)


CHANGE_ACTIONS = {"create": LogEntry.Action.CREATE, "update": LogEntry.Action.UPDATE, "delete": LogEntry.Action.DELETE}


def changes_query(*, actor: str = "", action: str = "", object_type: str = "", start: dt.date | None = None,
                  end: dt.date | None = None) -> QuerySet[LogEntry]:
    """django-auditlog's model diffs; ``object_type`` is ``app_label.model`` as for actions."""
    qs = LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp", "-pk")
    if actor:
        qs = qs.filter(actor__username=actor)
    if action:
        qs = qs.filter(action=CHANGE_ACTIONS.get(action, -1))
    if object_type:
        app_label, _, model = object_type.partition(".")
        qs = qs.filter(content_type__app_label=app_label, content_type__model=model)
    return _within_days(qs, "timestamp", start, end)


def audit_page(*, kind: str, page_number: int | str = 1, **filters) -> Page:
    qs = changes_query(**filters) if kind == "changes" else actions_query(**filters)
    return Paginator(qs, AUDIT_PER_PAGE).get_page(page_number)


def audit_object_types() -> list[str]:
    return list(ActionLog.objects.exclude(object_type="").order_by("object_type")
                .values_list("object_type", flat=True).distinct())


# --- compliance -----------------------------------------------------------------------------------


def tax_exports_recent(*, limit: int = 20) -> list[dict]:
    """The stored tax exports, newest first (without their content)."""

    return list(TaxExport.objects.order_by("-created_at").values("id", "kind", "period", "created_at")[:limit])


def tax_export_get(*, export_id: int) -> TaxExport | None:
    return TaxExport.objects.filter(pk=export_id).first()
