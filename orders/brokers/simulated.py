"""The simulated exchange: the embedded default broker.

Prices
    Daily bars from ``strategies.selectors`` (raw OHLCV). Within a session the price follows a
    deterministic piecewise-linear path ``open → first extreme → second extreme → close``; whether
    the high or the low comes first and when the extremes happen are drawn from a RNG seeded with
    ``(SIM_SEED, symbol, session)``, so the same time always gives the same price and the path
    never leaves ``[low, high]``. The bar is :func:`strategies.selectors.session_bar`'s: the demo
    market's bar of today's session on the embedded default (docs/CONCEPTS/demo-market.md), otherwise
    the latest bar on or before today. Quotes: ``last`` from the path, ``bid``/``ask`` ``last ∓
    SIM_SLIPPAGE_BPS``.

Market hours
    ``SIM_MARKET_HOURS=nyse`` follows the market clock's XNYS calendar (``marketdata.market_clock``, from
    ``RISK_CALENDAR_START``, so any replay window it covers works): the session runs from
    the open to the (possibly early) close; orders outside it wait for the next session.
    ``always`` (the ``make run`` default) treats the whole New York day as one session, so a
    newcomer sees fills at any hour.

Fill model (per evaluation of an open order)
    - Participation cap: at most ``SIM_PARTICIPATION × ADV × elapsed / 390 min`` shares, with
      ``elapsed`` the time since the order was last evaluated (at least one minute) — large orders
      fill partially over several evaluations. Whole shares unless the asset is fractionable; at
      least one share per evaluation.
    - ADV: mean volume of the 20 sessions before the bar; without volume data the bar's volume;
      without any volume a fixed ``SIM_DEFAULT_ADV`` (1,000,000 shares).
    - Price: ``path × (1 ± (SIM_SLIPPAGE_BPS + SIM_IMPACT_COEF_BPS × √(fill_qty / ADV)) / 10⁴)``
      (buy +, sell −), rounded away from the trader to the tick (0.01 at or above $1, 0.0001 below).
    - Limit orders fill when the path price crosses the limit, at the better of the model price
      and the limit.
    - Commission ``max(SIM_COMMISSION_MIN, SIM_COMMISSION_PER_SHARE × qty)`` (default 0, as Alpaca).
    - ``SIM_FAIL_SUBMIT_MATCH`` (fault drill): a submit whose ``client_order_id`` matches the regular
      expression raises ``BrokerUnavailable`` before the exchange records it.
    - ``SIM_REJECT_RATE``: a deterministic share of orders (seeded by ``client_order_id``) is
      rejected; ``SIM_LATENCY_MS`` sleeps before answering.
    - Day orders expire when the New York date changes.

Trade updates go to an outbox (:class:`orders.models.SimTradeUpdate`) and are delivered to the same
``trade_update_apply`` the Alpaca stream uses — by the trade-stream process
(``SIM_FILL_DELIVERY=stream``, the running platform: an order request returns at acceptance and its
fills arrive a moment later, as with Alpaca) or by the submitting call itself
(``SIM_FILL_DELIVERY=inline``: replay and the test suite). The beat's sim tick delivers whatever is
left in either mode.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import random
import re
import time
import uuid
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum

from marketdata import market_clock
from marketdata import selectors as market
from orders.book import book_active, persist, saved
from orders.brokers.base import (
    BrokerAccount,
    BrokerOrder,
    BrokerOrderNotFound,
    BrokerPosition,
    BrokerRejected,
    BrokerUnavailable,
    DuplicateClientOrderId,
    Quote,
    SubmitRequest,
    TradeUpdate,
)
from orders.conf import conf
from orders.models import SimOrder, SimTradeUpdate
from orders.pnl import PositionState, apply_fill
from trading_site.lib import clock
from trading_site.lib.money import quantize_money

SESSION_MINUTES = Decimal(390)
BPS = Decimal(10000)
OPEN_SIM_STATUSES = ("accepted", "partially_filled")


def session_position(now: dt.datetime, *, mode: str) -> tuple[bool, dt.date, Decimal]:
    """(market open?, session date in New York, fraction of the session elapsed in [0, 1])."""
    ny = now.astimezone(clock.NEW_YORK)
    if mode == "always":
        seconds = ny.hour * 3600 + ny.minute * 60 + ny.second
        return True, ny.date(), Decimal(seconds) / Decimal(86400)
    # The market clock's calendar (explicit start, RISK_CALENDAR_START): any replay window it covers.
    session = market_clock.session_for(ny.date())
    if session is None:
        return False, ny.date(), Decimal(1)
    if now < session.open or now >= session.close:
        return False, ny.date(), Decimal(0) if now < session.open else Decimal(1)
    frac = Decimal((now - session.open).total_seconds()) / Decimal((session.close - session.open).total_seconds())
    return True, ny.date(), frac


@functools.lru_cache(maxsize=8192)
def _path_points(seed: int, symbol: str, session: dt.date, o: Decimal, h: Decimal, lo: Decimal, c: Decimal) -> tuple:
    """The session's path ``open → first extreme → second extreme → close`` as (fraction, price)
    knots; drawn from the seeded RNG once per bar (a replay asks for thousands of prices a bar)."""
    rng = random.Random(f"{seed}:{symbol}:{session.isoformat()}")
    high_first = rng.random() < 0.5
    t1 = Decimal("0.05") + Decimal(str(round(rng.random(), 6))) * Decimal("0.40")
    t2 = t1 + Decimal("0.05") + Decimal(str(round(rng.random(), 6))) * (Decimal("0.90") - t1)
    first, second = (h, lo) if high_first else (lo, h)
    return ((Decimal(0), o), (t1, first), (t2, second), (Decimal(1), c))


def path_price(bar: market.BarData, frac: Decimal, *, seed: int) -> Decimal:
    """Deterministic intraday price at ``frac`` of the session, within [low, high]."""
    points = _path_points(seed, bar.symbol, bar.session, bar.open, bar.high, bar.low, bar.close)
    frac = min(max(frac, Decimal(0)), Decimal(1))
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if frac <= x1:
            value = y0 + (y1 - y0) * (frac - x0) / (x1 - x0)
            return min(max(value, bar.low), bar.high).quantize(Decimal("0.0001"))
    return bar.close


def tick_size(price: Decimal) -> Decimal:
    return Decimal("0.01") if price >= 1 else Decimal("0.0001")


def model_cost_bps(*, qty: Decimal, adv: Decimal) -> Decimal:
    """Cost of one execution in bps of the path price: half-spread + square-root impact.

    ``SIM_SLIPPAGE_BPS + SIM_IMPACT_COEF_BPS × √(qty / ADV)``. Transaction-cost analysis uses this
    same function for its counterfactual single order (orders/tca.py).
    """
    return conf.sim_slippage_bps + conf.sim_impact_coef_bps * (qty / adv).sqrt()


def model_fill_price(*, side: str, price: Decimal, qty: Decimal, adv: Decimal) -> Decimal:
    """The exchange's fill price for ``qty`` at path price ``price``, rounded away from the trader."""
    cost = model_cost_bps(qty=qty, adv=adv) / BPS
    tick = tick_size(price)
    if side == "buy":
        return (price * (1 + cost)).quantize(tick, rounding=ROUND_CEILING)
    return max((price * (1 - cost)).quantize(tick, rounding=ROUND_FLOOR), tick)


class PreloadedBars:
    """The exchange's market from bars held in memory — ``{symbol: (sessions, bars)}``, both sorted —
    for a replay, which loads its window once; a symbol not held is read from the database."""

    def __init__(self, bars: dict[str, tuple[list[dt.date], list[market.BarData]]]) -> None:
        self.bars = bars
        # the sessions that have a volume, per symbol: the ADV reaches past the ones without in O(log n)
        self._volumes = {
            symbol: ([r.session for r in rows if r.volume is not None], [r.volume for r in rows if r.volume is not None])
            for symbol, (_, rows) in bars.items()
        }

    def bar(self, symbol: str, session: dt.date) -> market.BarData | None:
        """The bar of ``session`` or the latest before it (as ``marketdata.selectors.session_bar``)."""
        dates, rows = self.bars[symbol]
        i = bisect.bisect_right(dates, session) - 1
        return rows[i] if i >= 0 else None

    def adv(self, bar: market.BarData) -> Decimal | None:
        """The average daily volume before the bar, by the database's rule (``market.volume_mean``)."""
        dates, volumes = self._volumes[bar.symbol]
        i = bisect.bisect_left(dates, bar.session)
        return market.volume_mean(reversed(volumes[max(0, i - market.ADV_DAYS) : i]))  # newest first


class SimulatedBroker:
    name = "simulated"

    def __init__(
        self, *, market_hours: str | None = None, fill_delivery: str | None = None,
        bars: PreloadedBars | None = None, starting_cash: Decimal | None = None,
    ) -> None:
        """``bars``: the market from memory (a replay), else from the database; ``starting_cash``: the
        account's cash before any fill (default ``SIM_STARTING_CASH``, read when the account is)."""
        self.bars = bars
        self.starting_cash = starting_cash
        self.market_hours = market_hours or settings.SIM_MARKET_HOURS
        self.fill_delivery = fill_delivery or settings.SIM_FILL_DELIVERY
        if self.fill_delivery not in ("stream", "inline"):
            raise ValueError(f"fill_delivery must be stream or inline, not {self.fill_delivery!r}")
        # inline: the gateway books the executions a submit or cancel produced before it returns.
        # stream: the outbox is delivered by the trade-stream process (and the sim tick), like
        # Alpaca's websocket; the gateway applies only the submit acknowledgement.
        self.synchronous_updates = self.fill_delivery == "inline"
        self._cache: dict[tuple, tuple[float, object]] = {}
        self._position_last: tuple | None = None

    # --- market data (cached: daily bars and ADV do not change within a minute) -----------------------
    _CACHE_SECONDS = 60.0

    def _cached(self, key: tuple, load):
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._CACHE_SECONDS:
            return hit[1]
        value = load()
        self._cache[key] = (now, value)
        return value

    def _bar(self, symbol: str, session: dt.date) -> market.BarData | None:
        if self.bars is not None and symbol in self.bars.bars:
            return self.bars.bar(symbol, session)
        return self._cached(("bar", symbol, session), lambda: market.session_bar(symbol=symbol, session=session))

    def _adv(self, bar: market.BarData) -> Decimal:
        if self.bars is not None and bar.symbol in self.bars.bars:
            adv = self.bars.adv(bar)
        else:
            adv = self._cached(
                ("adv", bar.symbol, bar.session),
                lambda: market.average_daily_volume(symbol=bar.symbol, before=bar.session),
            )
        return adv or bar.volume or conf.sim_default_adv

    def _fractionable(self, symbol: str) -> bool:
        asset = self._cached(("asset", symbol), lambda: market.asset_get(symbol=symbol))
        return bool(asset and asset.fractionable)

    def _session_position(self, now: dt.datetime) -> tuple[bool, dt.date, Decimal]:
        """:func:`session_position` of ``now``, kept for the next call at the same moment (one price
        per symbol of a portfolio at one time)."""
        last = self._position_last
        if last is not None and last[0] == now and last[1] == self.market_hours:
            return last[2]
        position = session_position(now, mode=self.market_hours)
        self._position_last = (now, self.market_hours, position)
        return position

    def _price_now(self, symbol: str, now: dt.datetime) -> tuple[bool, Decimal | None, market.BarData | None]:
        is_open, session, frac = self._session_position(now)
        bar = self._bar(symbol, session)
        if bar is None:
            return is_open, None, None
        if bar.session != session and self.market_hours == "nyse":
            frac = frac if is_open else Decimal(1)
        return is_open, path_price(bar, frac, seed=conf.sim_seed), bar

    def price_at(self, symbol: str, now: dt.datetime) -> Decimal | None:
        """The path price of ``symbol`` at ``now`` (None without a bar): what a market order fills from."""
        return self._price_now(symbol, now)[1]

    def latest_quote(self, symbol: str) -> Quote | None:
        now = clock.now()
        _, last, _ = self._price_now(symbol.upper(), now)
        if last is None:
            return None
        half = conf.sim_slippage_bps / BPS
        tick = tick_size(last)
        return Quote(
            symbol=symbol.upper(),
            bid=(last * (1 - half)).quantize(tick, rounding=ROUND_FLOOR),
            ask=(last * (1 + half)).quantize(tick, rounding=ROUND_CEILING),
            last=last,
            time=now,
        )

    # --- orders -----------------------------------------------------------------------------------
    def submit_order(self, request: SubmitRequest) -> BrokerOrder:
        if conf.sim_latency_ms:
            time.sleep(conf.sim_latency_ms / 1000)
        if conf.sim_fail_submit_match and re.search(conf.sim_fail_submit_match, request.client_order_id):
            raise BrokerUnavailable("The simulated connection dropped (SIM_FAIL_SUBMIT_MATCH).")
        if conf.sim_reject_rate and random.Random(f"{conf.sim_seed}:{request.client_order_id}").random() < conf.sim_reject_rate:
            raise BrokerRejected("The simulated exchange rejected the order (SIM_REJECT_RATE).", code="SIMULATED_REJECT")
        now = clock.now()
        fractionable = self._fractionable(request.symbol)
        row = SimOrder(
                    broker_order_id=str(uuid.uuid4()),
                    client_order_id=request.client_order_id,
                    symbol=request.symbol,
                    side=request.side,
                    order_type=request.order_type,
                    qty=request.qty,
                    limit_price=request.limit_price,
                    time_in_force=request.time_in_force,
                    status="accepted",
                    fractionable=fractionable,
                    created_at=now,
                    updated_at=now,
                    last_eval_at=now - dt.timedelta(minutes=1),
                )
        # Evaluated before the insert so the row is written once. No "new" update: the submit
        # answer itself tells the gateway the order is accepted.
        outcome = self._evaluate(row, now)
        book = book_active()
        if book is not None:  # a replay's exchange: its book keeps the order (orders.book)
            if request.client_order_id in book.sim_orders:
                raise DuplicateClientOrderId(
                    f"client_order_id {request.client_order_id!r} was already used", code="DUPLICATE_CLIENT_ORDER_ID"
                )
            book.add(row)
            book.sim_orders[row.client_order_id] = row
            self._book_index(book, row)
            if outcome is not None:
                self._emit(row, event=outcome[0], now=now, execution=outcome[1])
            return self._to_broker_order(row)
        try:
            with transaction.atomic():
                row.save(force_insert=True)
                if outcome is not None:
                    self._emit(row, event=outcome[0], now=now, execution=outcome[1])
        except IntegrityError as exc:
            raise DuplicateClientOrderId(
                f"client_order_id {request.client_order_id!r} was already used", code="DUPLICATE_CLIENT_ORDER_ID"
            ) from exc
        return self._to_broker_order(row)

    @staticmethod
    def _book_index(book, row: SimOrder) -> None:
        if row.status in OPEN_SIM_STATUSES:
            book.sim_open[row.client_order_id] = row
        else:
            book.sim_open.pop(row.client_order_id, None)

    def _emit(self, row: SimOrder, *, event: str, now: dt.datetime, execution: tuple | None = None) -> None:
        qty = price = None
        commission = Decimal(0)
        execution_id = None
        if execution is not None:
            qty, price, commission = execution
            execution_id = str(uuid.uuid4())
        update = persist(SimTradeUpdate(
            sim_order=row,
            event=event,
            execution_id=execution_id,
            qty=qty,
            price=price,
            commission=commission,
            cum_qty=row.filled_qty,
            cum_notional=row.filled_notional,
            status=row.status,
            timestamp=now,
        ))
        book = book_active()
        if book is not None:
            book.outbox.append(update)

    def _evaluate(self, row: SimOrder, now: dt.datetime) -> tuple[str, tuple | None] | None:
        """Fill what the model allows now. Mutates ``row`` (the caller saves it) and returns the
        update to emit — ``(event, (qty, price, commission) | None)`` — or None."""
        if row.status not in OPEN_SIM_STATUSES:
            return None
        ny_today = now.astimezone(clock.NEW_YORK).date()
        if row.time_in_force == "day" and row.created_at.astimezone(clock.NEW_YORK).date() < ny_today:
            row.status, row.updated_at = "expired", now
            return "expired", None
        is_open, price, bar = self._price_now(row.symbol, now)
        if not is_open or price is None or bar is None:
            return None
        adv = self._adv(bar)
        elapsed = max(Decimal((now - row.last_eval_at).total_seconds()), Decimal(60))
        cap = conf.sim_participation * adv * elapsed / (SESSION_MINUTES * 60)
        remaining = row.qty - row.filled_qty
        qty = min(remaining, cap)
        if not row.fractionable:
            qty = max(qty.to_integral_value(rounding=ROUND_FLOOR), min(remaining, Decimal(1)))
        else:
            qty = qty.quantize(Decimal("0.000000001"), rounding=ROUND_FLOOR)
        row.last_eval_at = now
        if qty <= 0:
            return None
        fill_price = model_fill_price(side=row.side, price=price, qty=qty, adv=adv)
        if row.order_type == "limit":
            limit = row.limit_price
            if (row.side == "buy" and price > limit) or (row.side == "sell" and price < limit):
                return None
            fill_price = min(fill_price, limit) if row.side == "buy" else max(fill_price, limit)
        commission = quantize_money(max(conf.sim_commission_min, conf.sim_commission_per_share * qty))
        row.filled_qty += qty
        row.filled_notional += qty * fill_price
        row.commission += commission
        row.status = "filled" if row.filled_qty == row.qty else "partially_filled"
        row.updated_at = now
        return ("fill" if row.status == "filled" else "partial_fill"), (qty, fill_price, commission)

    def tick(self) -> int:
        """Evaluate every open simulated order (partial remainders, resting limits, expiry)."""
        now = clock.now()
        count = 0
        book = book_active()
        if book is not None:
            for row in sorted(book.sim_open.values(), key=lambda r: r.pk):
                outcome = self._evaluate(row, now)
                self._book_index(book, row)
                if outcome is not None:
                    self._emit(row, event=outcome[0], now=now, execution=outcome[1])
                    count += 1
            return count
        ids = list(SimOrder.objects.filter(status__in=OPEN_SIM_STATUSES).order_by("pk").values_list("pk", flat=True))
        for pk in ids:
            with transaction.atomic():
                row = SimOrder.objects.select_for_update().get(pk=pk)
                outcome = self._evaluate(row, now)
                row.save(update_fields=["filled_qty", "filled_notional", "commission", "status", "updated_at",
                                        "last_eval_at"])
                if outcome is not None:
                    self._emit(row, event=outcome[0], now=now, execution=outcome[1])
                    count += 1
        return count

    def cancel_order(self, *, broker_order_id: str | None, client_order_id: str) -> None:
        now = clock.now()
        book = book_active()
        with transaction.atomic():
            if book is not None:
                row = book.sim_orders.get(client_order_id)
            else:
                row = SimOrder.objects.select_for_update().filter(client_order_id=client_order_id).first()
            if row is None:
                raise BrokerOrderNotFound(f"order {client_order_id} not found at the simulated exchange")
            if row.status not in OPEN_SIM_STATUSES:
                return
            row.status, row.updated_at = "canceled", now
            saved(row, fields=["status", "updated_at"])
            if book is not None:
                self._book_index(book, row)
            self._emit(row, event="canceled", now=now)

    def cancel_all_orders(self) -> int:
        ids = list(SimOrder.objects.filter(status__in=OPEN_SIM_STATUSES).values_list("client_order_id", flat=True))
        for cid in ids:
            self.cancel_order(broker_order_id=None, client_order_id=cid)
        return len(ids)

    def _to_broker_order(
        self, row: SimOrder, *, status: str | None = None, filled_qty: Decimal | None = None,
        filled_notional: Decimal | None = None,
    ) -> BrokerOrder:
        """The order as the broker reports it: now, or (``status``/``filled_*`` given) as of one update."""
        filled_qty = row.filled_qty if filled_qty is None else filled_qty
        filled_notional = row.filled_notional if filled_notional is None else filled_notional
        return BrokerOrder(
            broker_order_id=row.broker_order_id,
            client_order_id=row.client_order_id,
            symbol=row.symbol,
            side=row.side,
            qty=row.qty,
            status=row.status if status is None else status,
            filled_qty=filled_qty,
            filled_avg_price=quantize_money(filled_notional / filled_qty) if filled_qty else None,
            submitted_at=row.created_at,
        )

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        book = book_active()
        if book is not None:
            row = book.sim_orders.get(client_order_id)
        else:
            row = SimOrder.objects.filter(client_order_id=client_order_id).first()
        return None if row is None else self._to_broker_order(row)

    def list_open_orders(self) -> list[BrokerOrder]:
        return [self._to_broker_order(r) for r in SimOrder.objects.filter(status__in=OPEN_SIM_STATUSES).order_by("pk")]

    # --- trade updates ----------------------------------------------------------------------------
    def pending_updates(self, *, client_order_id: str | None = None, limit: int = 500) -> list[TradeUpdate]:
        book = book_active()
        if book is not None:
            rows = [u for u in book.outbox if client_order_id is None or u.sim_order.client_order_id == client_order_id]
            rows = rows[:limit]
        else:
            rows = SimTradeUpdate.objects.filter(delivered=False)
            if client_order_id is not None:
                rows = rows.filter(sim_order__client_order_id=client_order_id)
            rows = rows.select_related("sim_order").order_by("pk")[:limit]
        updates = []
        for u in rows:
            order = self._to_broker_order(
                u.sim_order, status=u.status, filled_qty=u.cum_qty, filled_notional=u.cum_notional
            )
            updates.append(
                TradeUpdate(
                    event=u.event,
                    order=order,
                    timestamp=u.timestamp,
                    execution_id=u.execution_id,
                    qty=u.qty,
                    price=u.price,
                    commission=u.commission,
                    origin="simulated",
                    ref=u.pk,
                )
            )
        return updates

    def mark_delivered(self, updates: list[TradeUpdate]) -> None:
        refs = [u.ref for u in updates if u.ref is not None]
        book = book_active()
        if book is not None:
            done = set(refs)
            for u in book.outbox:
                if u.pk in done:
                    u.delivered = True
            book.outbox = [u for u in book.outbox if not u.delivered]
            return
        if refs:
            SimTradeUpdate.objects.filter(pk__in=refs).update(delivered=True)

    # --- account ----------------------------------------------------------------------------------
    def list_positions(self) -> list[BrokerPosition]:
        states: dict[str, PositionState] = {}
        fills = (
            SimTradeUpdate.objects.filter(execution_id__isnull=False)
            .order_by("pk")
            .values_list("sim_order__symbol", "sim_order__side", "qty", "price")
        )
        for symbol, side, qty, price in fills:
            states[symbol] = apply_fill(states.get(symbol, PositionState()), side=side, qty=qty, price=price)
        return [
            BrokerPosition(symbol=s, qty=st.qty, avg_entry_price=st.avg_cost)
            for s, st in sorted(states.items())
            if st.qty != 0
        ]

    def get_account(self) -> BrokerAccount:
        totals = {
            side: SimOrder.objects.filter(side=side).aggregate(n=Sum("filled_notional"), c=Sum("commission"))
            for side in ("buy", "sell")
        }
        cash = conf.sim_starting_cash if self.starting_cash is None else self.starting_cash
        cash -= totals["buy"]["n"] or 0
        cash += totals["sell"]["n"] or 0
        cash -= (totals["buy"]["c"] or 0) + (totals["sell"]["c"] or 0)
        long_value = short_value = Decimal(0)
        for pos in self.list_positions():
            quote = self.latest_quote(pos.symbol)
            price = quote.last if quote and quote.last else pos.avg_entry_price
            value = pos.qty * price
            if value >= 0:
                long_value += value
            else:
                short_value += value
        equity = cash + long_value + short_value
        return BrokerAccount(
            cash=quantize_money(cash),
            equity=quantize_money(equity),
            buying_power=quantize_money(max(cash, Decimal(0))),
            long_market_value=quantize_money(long_value),
            short_market_value=quantize_money(short_value),
        )

    def health(self) -> dict:
        return {"ok": True, "name": self.name, "market_hours": self.market_hours}
