"""Reads of the ledger for views, the API and other apps (risk, tax, console).

Positions and accounts are returned as small frozen dataclasses with Decimals.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from orders.book import book_active
from orders.brokers import get_broker
from orders.models import OPEN_STATUSES, TERMINAL_STATUSES, AccountSnapshot, Fill, Order, OrderStatus, Position
from orders.pnl import unrealized_pnl
from trading_site.lib.clock import NEW_YORK
from trading_site.lib.money import quantize_money

_PRICE_TTL = 1.0  # seconds: one quote per symbol per second is plenty for checks and pages
_price_cache: dict[tuple[int, str], tuple[float, Decimal | None]] = {}
_price_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class PositionData:
    symbol: str
    qty: Decimal
    avg_cost: Decimal
    realized_pnl: Decimal
    last_price: Decimal | None
    market_value: Decimal | None
    unrealized_pnl: Decimal | None

    @property
    def avg_entry_price(self) -> Decimal:
        """Alias of ``avg_cost`` in the broker's vocabulary."""
        return self.avg_cost


@dataclass(frozen=True, slots=True)
class AccountData:
    equity: Decimal
    cash: Decimal
    buying_power: Decimal
    time: dt.datetime
    long_market_value: Decimal = Decimal(0)
    short_market_value: Decimal = Decimal(0)


def last_price(*, symbol: str) -> Decimal | None:
    """Last trade price from the configured broker's quote (cached for a second), or None."""

    symbol = symbol.upper()
    now = time.monotonic()
    broker = get_broker()
    key = (id(broker), symbol)  # per broker: a replay's exchange (in another thread) never feeds live prices
    cached = _price_cache.get(key)
    if cached and now - cached[0] < _PRICE_TTL:
        return cached[1]
    quote = broker.latest_quote(symbol)
    price = quote.last if quote is not None else None
    with _price_lock:
        _price_cache[key] = (now, price)
    return price


def price_cache_clear() -> None:
    with _price_lock:
        _price_cache.clear()


def _position_data(pos: Position, *, with_price: bool = True) -> PositionData:
    price = last_price(symbol=pos.symbol) if with_price and pos.qty != 0 else None
    return PositionData(
        symbol=pos.symbol,
        qty=pos.qty,
        avg_cost=pos.avg_cost,
        realized_pnl=pos.realized_pnl,
        last_price=price,
        market_value=None if price is None else quantize_money(price * pos.qty),
        unrealized_pnl=unrealized_pnl(qty=pos.qty, avg_cost=pos.avg_cost, price=price) if pos.qty else Decimal(0),
    )


def position_get(*, symbol: str) -> PositionData | None:
    book = book_active()
    if book is not None:  # a replay's ledger in memory (orders.book)
        pos = book.positions.get(symbol.upper())
    else:
        pos = Position.objects.filter(symbol=symbol.upper()).first()
    return None if pos is None else _position_data(pos)


def positions_list(*, include_flat: bool = False) -> list[PositionData]:
    book = book_active()
    if book is not None:  # a replay's ledger in memory (orders.book)
        rows = [p for _, p in sorted(book.positions.items()) if include_flat or p.qty != 0]
        return [_position_data(p) for p in rows]
    qs = Position.objects.all() if include_flat else Position.objects.exclude(qty=0)
    return [_position_data(p) for p in qs.order_by("symbol")]


def orders_open() -> QuerySet[Order]:
    return Order.objects.filter(status__in=OPEN_STATUSES).order_by("created_at", "pk")


def orders_list(
    *,
    status: str | None = None,
    symbol: str | None = None,
    source: str | None = None,
    created_from: dt.datetime | None = None,
    created_to: dt.datetime | None = None,
) -> QuerySet[Order]:
    qs = Order.objects.all()
    if status:
        qs = qs.filter(status=status)
    if symbol:
        qs = qs.filter(symbol=symbol.upper())
    if source:
        qs = qs.filter(source=source)
    if created_from:
        qs = qs.filter(created_at__gte=created_from)
    if created_to:
        qs = qs.filter(created_at__lt=created_to)
    return qs.order_by("-created_at", "-pk")


def order_detail(*, order_id: int) -> Order | None:
    return Order.objects.filter(pk=order_id).prefetch_related("fills", "events").first()


@dataclass(frozen=True, slots=True)
class FillData:
    symbol: str
    side: str
    qty: Decimal
    executed_at: dt.datetime


def fills_between(*, start: dt.datetime, end: dt.datetime) -> list[FillData]:
    """Fills executed in ``[start, end)``, oldest first (the day-trade counter's window)."""
    rows = (
        Fill.objects.filter(executed_at__gte=start, executed_at__lt=end)
        .order_by("executed_at", "id")
        .values_list("symbol", "side", "qty", "executed_at")
    )
    fills = [FillData(symbol=s, side=side, qty=q, executed_at=at) for s, side, q, at in rows]
    book = book_active()
    if book is not None:  # a replay: the fills since its last flush are in memory (orders.book)
        fills += [FillData(symbol=f.symbol, side=f.side, qty=f.qty, executed_at=f.executed_at)
                  for f in book.fills_between(start, end)]
    return fills


def account_latest() -> AccountData | None:
    book = book_active()
    if book is not None:  # a replay: read once per book (orders.reconcile resets it on a new snapshot)
        if not book.account_read:
            book.account, book.account_read = _account_latest_read(), True
        return book.account
    return _account_latest_read()


def _account_latest_read() -> AccountData | None:
    snap = AccountSnapshot.objects.order_by("-time", "-pk").first()
    if snap is None:
        return None
    return AccountData(
        equity=snap.equity,
        cash=snap.cash,
        buying_power=snap.buying_power,
        time=snap.time,
        long_market_value=snap.long_market_value,
        short_market_value=snap.short_market_value,
    )


def gross_exposure() -> Decimal:
    """Σ |qty| × last price over open positions (average cost when no price is known)."""
    total = Decimal(0)
    for pos in Position.objects.exclude(qty=0):
        price = last_price(symbol=pos.symbol) or pos.avg_cost
        total += abs(pos.qty) * price
    return quantize_money(total)


# --- TWAP parents ---------------------------------------------------------------------------------

PARENT_PENDING, PARENT_ACTIVE, PARENT_COMPLETE = "pending", "active", "complete"


def twap_parents() -> QuerySet[Order]:
    """TWAP parents annotated with the reference's ``parent_order_status`` aggregate (one query).

    - ``slices_submitted``: children that reached the broker (they have a submission time or a
      broker id, or a status past ``submitting``);
    - ``agg_filled_qty`` / ``agg_filled_notional`` / ``agg_avg_fill_price``: over all children
      (partial fills of canceled children count: they are real shares);
    - ``aggregated_status``: ``pending`` while any child is still scheduled, ``complete`` when every
      child is terminal, ``active`` otherwise.
    """
    from django.db.models import Case, Count, DecimalField, ExpressionWrapper, F, Q, Sum, Value, When
    from django.db.models.functions import Coalesce, NullIf

    zero = Value(Decimal(0), output_field=DecimalField(max_digits=20, decimal_places=9))
    not_sent = [OrderStatus.SCHEDULED, OrderStatus.SUBMITTING, OrderStatus.CANCELED, OrderStatus.REJECTED,
                OrderStatus.FAILED]
    submitted = Q(children__broker_order_id__isnull=False) | ~Q(children__status__in=not_sent)
    return (
        Order.objects.filter(parent_order__isnull=True, total_slices__isnull=False)
        .annotate(
            child_count=Count("children"),
            slices_submitted=Count("children", filter=submitted),
            slices_scheduled=Count("children", filter=Q(children__status=OrderStatus.SCHEDULED)),
            slices_terminal=Count("children", filter=Q(children__status__in=list(TERMINAL_STATUSES))),
            agg_filled_qty=Coalesce(Sum("children__filled_qty"), zero),
            agg_filled_notional=Coalesce(Sum("children__filled_notional"), zero),
        )
        .annotate(
            agg_avg_fill_price=ExpressionWrapper(
                F("agg_filled_notional") / NullIf(F("agg_filled_qty"), zero),
                output_field=DecimalField(max_digits=30, decimal_places=6),
            ),
            aggregated_status=Case(
                When(slices_scheduled__gt=0, then=Value(PARENT_PENDING)),
                When(slices_terminal=F("child_count"), then=Value(PARENT_COMPLETE)),
                default=Value(PARENT_ACTIVE),
            ),
        )
    )


def twap_parent_get(*, order_id: int) -> Order | None:
    return twap_parents().filter(pk=order_id).first()


def twap_children(*, parent_id: int) -> QuerySet[Order]:
    return Order.objects.filter(parent_order_id=parent_id).order_by("slice_num", "pk")


# --- the live account -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveAccount:
    """The account as the ledger knows it now: the one source of cash, equity and P&L.

    The latest :class:`AccountSnapshot` is the anchor (the broker's word at ``snapshot_time``); every
    ledger fill the broker executed after it moves cash by its signed notional and commission, and
    equity is that cash plus the open positions at their last price (average cost when there is no
    quote, as the simulated exchange values them). So a kill-switch flatten shows cash = equity and
    no positions as soon as the fills are booked, not at the next snapshot. The definitions of day
    and total P&L are in docs/CONCEPTS/performance-metrics.md ("Day and total P&L"):

    - ``total_pnl`` = realized (net of commissions) + unrealized over every position ever held;
    - ``day_pnl`` = equity now − equity at the previous close (the last snapshot before today's New
      York midnight; the day's first snapshot when there is none before today); None without either.
    """

    time: dt.datetime
    snapshot_time: dt.datetime
    broker: str
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    long_market_value: Decimal
    short_market_value: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    total_pnl: Decimal
    day_pnl: Decimal | None
    day_reference_equity: Decimal | None
    positions: tuple[PositionData, ...]  # open positions, by symbol
    unpriced: int  # open positions without a quote (valued at average cost, unrealized P&L unknown)
    pattern_day_trader: bool | None = None
    daytrade_count: int | None = None


@dataclass(frozen=True, slots=True)
class LedgerPnl:
    """Realized and unrealized P&L over the ledger's positions (also when there is no snapshot yet)."""

    realized_pnl: Decimal
    unrealized_pnl: Decimal
    total_pnl: Decimal
    positions: tuple[PositionData, ...]  # open positions
    unpriced: int


def ledger_pnl() -> LedgerPnl:
    """Total P&L from the positions table (one query; quotes from the per-second price cache)."""
    every = positions_list(include_flat=True)
    open_positions = tuple(p for p in every if p.qty != 0)
    realized = sum((p.realized_pnl for p in every), Decimal(0))
    unrealized = sum((p.unrealized_pnl for p in open_positions if p.unrealized_pnl is not None), Decimal(0))
    return LedgerPnl(
        realized_pnl=quantize_money(realized),
        unrealized_pnl=quantize_money(unrealized),
        total_pnl=quantize_money(realized + unrealized),
        positions=open_positions,
        unpriced=sum(1 for p in open_positions if p.unrealized_pnl is None),
    )


def day_reference_equity(*, now: dt.datetime) -> Decimal | None:
    """Equity at the previous close: the last snapshot before today's New York midnight, else today's first."""
    midnight = dt.datetime.combine(now.astimezone(NEW_YORK).date(), dt.time.min, tzinfo=NEW_YORK)
    before = AccountSnapshot.objects.filter(time__lt=midnight).order_by("-time", "-pk").values_list("equity", flat=True)
    ref = before.first()
    if ref is None:
        ref = AccountSnapshot.objects.order_by("time", "pk").values_list("equity", flat=True).first()
    return ref


def account_live(*, now: dt.datetime) -> LiveAccount | None:
    """The live account (four queries: snapshot, fills since it, positions, day reference); None before
    the first snapshot (nothing anchors cash yet)."""
    from django.db.models import F, Sum

    snap = AccountSnapshot.objects.order_by("-time", "-pk").first()
    if snap is None:
        return None
    flows = Fill.objects.filter(executed_at__gt=snap.time).values("side").annotate(
        notional=Sum(F("qty") * F("price")), commission=Sum("commission"))
    delta = Decimal(0)
    for row in flows:
        sign = -1 if row["side"] == "buy" else 1
        delta += sign * (row["notional"] or 0) - (row["commission"] or 0)
    pnl = ledger_pnl()
    long_value = short_value = Decimal(0)
    for p in pnl.positions:
        value = p.market_value if p.market_value is not None else p.qty * p.avg_cost
        if value >= 0:
            long_value += value
        else:
            short_value += value
    cash = quantize_money(snap.cash + delta)
    equity = quantize_money(cash + long_value + short_value)
    ref = day_reference_equity(now=now)
    return LiveAccount(
        time=now,
        snapshot_time=snap.time,
        broker=snap.broker,
        cash=cash,
        equity=equity,
        buying_power=quantize_money(max(snap.buying_power + delta, Decimal(0))),
        long_market_value=quantize_money(long_value),
        short_market_value=quantize_money(short_value),
        realized_pnl=pnl.realized_pnl,
        unrealized_pnl=pnl.unrealized_pnl,
        total_pnl=pnl.total_pnl,
        day_pnl=None if ref is None else quantize_money(equity - ref),
        day_reference_equity=ref,
        positions=pnl.positions,
        unpriced=pnl.unpriced,
        pattern_day_trader=snap.pattern_day_trader,
        daytrade_count=snap.daytrade_count,
    )
