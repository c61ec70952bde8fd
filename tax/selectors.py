"""Reads of the tax ledger for the API, the console, reports and the pre-trade check.

Coverage: the ledger sees only this account's trades (platform fills and imported history).
Purchases of substantially identical stock in other accounts (an IRA, a spouse's account) also
trigger wash sales under Pub. 550 and are not visible here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from json.encoder import encode_basestring_ascii as _json_string  # json.dumps' own

from django.db.models import QuerySet

from tax import conf, engine
from tax.models import RealizedGain, SymbolBook, TaxLot, TaxTrade, WashSale
from tax.services import book_load
from trading_site.lib import clock
from trading_site.lib.errors import DomainError
from trading_site.lib.money import CENT

COVERAGE_NOTE = (
    "Wash-sale detection covers this account only; purchases in other accounts (IRAs, a spouse's "
    "accounts) also count under IRS Pub. 550 and are not visible to the platform."
)
ZERO = Decimal(0)


def cents(value: Decimal) -> Decimal:
    """Presentation rounding for forms and reports (half up, as on tax forms)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def qty_text(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text if text != "-0" else "0"


class _Memo(dict):
    """``value -> format(value)``, each distinct value formatted once; cleared when it grows past
    ``limit`` so memory stays bounded. Reports repeat a few thousand days and share quantities
    over hundreds of thousands of rows, and formatting them costs more than the rest of a row."""

    def __init__(self, format, limit: int = 50_000) -> None:
        super().__init__()
        self.format, self.limit = format, limit

    def __missing__(self, value):
        if len(self) >= self.limit:
            self.clear()
        text = self[value] = self.format(value)
        return text


# Reports (streamed rows): the same text as ``day.isoformat()`` and :func:`qty_text`.
_day_texts = _Memo(dt.date.isoformat)
_qty_texts = _Memo(qty_text)


def _json_template(keys: Iterable[str]) -> str:
    """``template % tuple(encoded values)`` is ``json.dumps`` of a flat dict with these keys (in this
    order) — without building an encoder per row, which costs more than the rest of the report."""
    return "{" + ", ".join(json.dumps(key).replace("%", "%%") + ": %s" for key in keys) + "}"


def _json_line(template: str, row: dict) -> str:
    """``json.dumps(row)`` for a flat dict of strings, with :func:`_json_template` of its keys."""
    return template % tuple(map(_json_string, row.values()))


# -- querysets ----------------------------------------------------------------------------------------
def lots_list(*, account: str = "default", symbol: str | None = None, include_closed: bool = False) -> QuerySet[TaxLot]:
    qs = TaxLot.objects.filter(account=account)
    if not include_closed:
        qs = qs.filter(status=TaxLot.Status.OPEN)
    if symbol:
        qs = qs.filter(symbol=symbol.upper())
    return qs.order_by("symbol", "seq", "sub")


def realized_list(*, account: str = "default", year: int | None = None) -> QuerySet[RealizedGain]:
    qs = RealizedGain.objects.filter(account=account)
    if year is not None:
        qs = qs.filter(date_sold__year=year)
    return qs.order_by("date_sold", "symbol", "sale_seq", "lot_seq", "piece")  # piece: a total order


def wash_sales_list(*, account: str = "default", year: int | None = None) -> QuerySet[WashSale]:
    qs = WashSale.objects.filter(account=account)
    if year is not None:
        qs = qs.filter(original_sale_date__year=year)
    return qs.order_by("original_sale_date", "symbol", "triggering_purchase_date", "created_at", "id")


# -- the report (tax_report, API, exports) ----------------------------------------------------------
# Reports are streamed: rows come from a server-side cursor (``QuerySet.iterator``) CHUNK at a time
# and are presented one by one, so memory stays flat however long the history.
CHUNK = 10_000  # rows per round trip: a few MB at most
REALIZED_FIELDS = (
    "sale_trade_id", "lot_trade_id", "symbol", "qty", "date_acquired", "date_sold", "proceeds", "cost_basis",
    "adjustment_amount", "term",
)  # fmt: skip


def _realized_presented(
    sale_trade_id, lot_trade_id, symbol, qty, date_acquired, date_sold, proceeds, cost_basis, adjustment, term
) -> dict:
    proceeds, basis, adjustment = cents(proceeds), cents(cost_basis), cents(adjustment)
    return {
        "sale_trade_id": sale_trade_id,
        "lot_trade_id": lot_trade_id,
        "symbol": symbol,
        "qty": _qty_texts[qty],
        "date_acquired": _day_texts[date_acquired],
        "date_sold": _day_texts[date_sold],
        "proceeds": str(proceeds),
        "cost_basis": str(basis),
        "adjustment_code": "W" if adjustment > 0 else "",
        "adjustment_amount": str(adjustment),
        "gain_loss": str(proceeds - basis + adjustment),
        "term": term,
    }


def realized_row_dict(row: RealizedGain) -> dict:
    return _realized_presented(*(getattr(row, name) for name in REALIZED_FIELDS))


LOT_FIELDS = ("trade_id", "symbol", "open_qty", "cost_basis_total", "holding_period_start")
WASH_FIELDS = (
    "sale_trade_id", "lot_trade_id", "symbol", "qty", "original_sale_date", "disallowed_loss",
    "replacement_trade_id", "triggering_purchase_date", "holding_start_after",
)  # fmt: skip


def _open_lot_presented(trade_id, symbol, open_qty, cost_basis_total, holding_period_start) -> dict:
    return {
        "lot_trade_id": trade_id,
        "symbol": symbol,
        "qty": _qty_texts[open_qty],
        "cost_basis_total": str(cents(cost_basis_total)),
        "holding_period_start": _day_texts[holding_period_start],
    }


def open_lot_dict(lot: TaxLot) -> dict:
    return _open_lot_presented(*(getattr(lot, name) for name in LOT_FIELDS))


def _wash_presented(
    sale_trade_id, lot_trade_id, symbol, qty, sold, disallowed, replacement_trade_id, replacement_acquired, start
) -> dict:
    return {
        "sale_trade_id": sale_trade_id,
        "lot_trade_id": lot_trade_id,
        "symbol": symbol,
        "qty": _qty_texts[qty],
        "date_sold": _day_texts[sold],
        "disallowed_loss": str(cents(disallowed)),
        "replacement_trade_id": replacement_trade_id,
        "replacement_date_acquired": _day_texts[replacement_acquired],
        "holding_period_start": _day_texts[start],
    }


def wash_sale_dict(wash: WashSale) -> dict:
    return _wash_presented(*(getattr(wash, name) for name in WASH_FIELDS))


class Totals:
    """Totals of realized rows *as presented* (cents), so forms and JSON add up line by line."""

    def __init__(self) -> None:
        self.short = self.long = self.disallowed = ZERO
        self.rows = 0

    def add(self, row: dict) -> dict:
        gain = Decimal(row["gain_loss"])
        if row["term"] == engine.SHORT:
            self.short += gain
        elif row["term"] == engine.LONG:
            self.long += gain
        self.disallowed += Decimal(row["adjustment_amount"])
        self.rows += 1
        return row

    def as_dict(self) -> dict:
        return {
            "short_term_gain": str(cents(self.short)),
            "long_term_gain": str(cents(self.long)),
            "disallowed_loss": str(cents(self.disallowed)),
        }


def report_totals(realized: Iterable[dict]) -> dict:
    totals = Totals()
    for row in realized:
        totals.add(row)
    return totals.as_dict()


def realized_rows(
    *, year: int | None = None, account: str = "default", term: str | None = None, sold: tuple | None = None
) -> Iterator[dict]:
    """The realized rows as presented in reports and downloads, streamed (``sold``: a date range)."""
    qs = realized_list(account=account, year=year)
    if term is not None:
        qs = qs.filter(term=term)
    if sold is not None:
        qs = qs.filter(date_sold__range=sold)
    for values in qs.values_list(*REALIZED_FIELDS).iterator(chunk_size=CHUNK):
        yield _realized_presented(*values)


def open_lot_rows(*, account: str = "default") -> Iterator[dict]:
    for values in lots_list(account=account).values_list(*LOT_FIELDS).iterator(chunk_size=CHUNK):
        yield _open_lot_presented(*values)


def wash_sale_rows(*, account: str = "default", year: int | None = None, sold: tuple | None = None) -> Iterator[dict]:
    qs = wash_sales_list(account=account, year=year)
    if sold is not None:
        qs = qs.filter(original_sale_date__range=sold)
    for values in qs.values_list(*WASH_FIELDS).iterator(chunk_size=CHUNK):
        yield _wash_presented(*values)


def tax_report_size(*, year: int | None = None, account: str = "default", with_lots: bool = True) -> int:
    """How many rows a report holds (for progress): realized rows, plus open lots and wash sales."""
    size = realized_list(account=account, year=year).count()
    if with_lots:
        size += lots_list(account=account).count() + wash_sales_list(account=account, year=year).count()
    return size


def tax_report_json(*, year: int | None = None, account: str = "default") -> Iterator[str]:
    """The report as JSON text, streamed a row at a time (one row per line); totals come last."""
    totals = Totals()
    sections = (
        ("realized", (totals.add(r) for r in realized_rows(year=year, account=account))),
        ("open_lots", open_lot_rows(account=account)),
        ("wash_sales", wash_sale_rows(account=account, year=year)),
    )
    yield "{\n"
    for key, rows in sections:
        yield f'  "{key}": ['
        sep = "\n    "
        template = None
        for row in rows:
            if template is None:  # every row of a section has the same keys
                template = _json_template(row)
            yield sep + _json_line(template, row)
            sep = ",\n    "
        yield "],\n" if sep == "\n    " else "\n  ],\n"
    yield f'  "totals": {json.dumps(totals.as_dict())}\n}}\n'


def tax_report(*, year: int | None = None, account: str = "default") -> dict:
    """The report as one dict (the API and small periods; ``tax_report`` command streams it)."""
    return json.loads("".join(tax_report_json(year=year, account=account)))


# -- tax-aware trading -----------------------------------------------------------------------------------
@dataclass
class WashPreview:
    symbol: str
    side: str
    qty: Decimal
    would_wash: bool
    disallowed_loss: Decimal  # dollars at stake: loss that would be disallowed now
    shares: Decimal  # shares matched
    realized_loss: Decimal = ZERO  # for a sell: the loss the sale itself would realize
    window_closes: dt.date | None = None  # for a loss sell: buying on or before this date washes it
    matches: list[dict] = field(default_factory=list)
    detail: str = ""


def _book_snapshot(*, account: str, symbol: str, on: dt.date) -> engine.SymbolBook:
    row = SymbolBook.objects.filter(account=account, symbol=symbol).first() or SymbolBook(
        account=account, symbol=symbol
    )
    return book_load(account=account, row=row, on=on)


def wash_sale_preview(
    *,
    symbol: str,
    side: str,
    qty: Decimal,
    price: Decimal,
    now: dt.datetime,
    account: str = "default",
    method: str | None = None,
) -> WashPreview:
    """Would this order wash a loss now? A buy: recent unmatched losses it would replace. A sell at
    a loss: recent purchases that would replace it. Runs the real engine on a throw-away copy."""
    symbol = symbol.upper()
    day = now.astimezone(clock.NEW_YORK).date()
    book = _book_snapshot(account=account, symbol=symbol, on=day)  # loaded for this preview only
    trade = engine.Trade(trade_id="preview", date=day, side=side, symbol=symbol, qty=qty, price=price)
    realized_loss = ZERO
    window_closes = None
    if side == engine.BUY:
        book.buy(trade)
    elif side == engine.SELL:
        try:
            rows = book.sell(trade, method=method or conf.LOT_METHOD)
        except engine.LotError as exc:
            raise DomainError(str(exc), code="TAX_PREVIEW_INVALID") from exc
        loss = sum((r.cost_basis - r.proceeds for r in rows if r.proceeds < r.cost_basis), ZERO)
        realized_loss = cents(loss)
        if loss > 0:
            window_closes = day + dt.timedelta(days=engine.WASH_WINDOW_DAYS)
    else:
        raise DomainError("side must be buy or sell", code="validation_error")
    washes = book.take_changes().washes
    amount = sum((w.disallowed_loss for w in washes), ZERO)
    shares = sum((w.qty for w in washes), ZERO)
    matches = [
        {
            "sale_trade_id": w.sale_trade_id,
            "date_sold": w.date_sold.isoformat(),
            "replacement_trade_id": w.replacement_trade_id,
            "qty": qty_text(w.qty),
            "disallowed_loss": str(cents(w.disallowed_loss)),
        }
        for w in washes
    ]
    if washes and side == engine.BUY:
        detail = f"Buying {qty_text(qty)} {symbol} would disallow ${cents(amount)} of recent realized loss (wash sale)."
    elif washes:
        detail = (
            f"Selling {qty_text(qty)} {symbol} at {price} realizes a ${realized_loss} loss; ${cents(amount)} of it "
            "would be disallowed by shares bought in the last 30 days (wash sale)."
        )
    else:
        detail = "No wash sale."
    return WashPreview(
        symbol=symbol,
        side=side,
        qty=qty,
        would_wash=bool(washes) and amount > 0,
        disallowed_loss=cents(amount),
        shares=shares,
        realized_loss=realized_loss,
        window_closes=window_closes,
        matches=matches,
        detail=detail,
    )


def wash_sale_windows_open(*, now: dt.datetime, account: str = "default") -> list[dict]:
    """Symbols with a realized loss that buying now would (partly) disallow, and when that ends."""
    today = now.astimezone(clock.NEW_YORK).date()
    horizon = today - dt.timedelta(days=engine.WASH_WINDOW_DAYS)
    rows = RealizedGain.objects.filter(account=account, wash_open_qty__gt=0, date_sold__gte=horizon).order_by(
        "symbol", "date_sold"
    )
    by_symbol: dict[str, dict] = {}
    for row in rows:
        entry = by_symbol.setdefault(
            row.symbol, {"symbol": row.symbol, "closes_on": row.date_sold, "shares": ZERO, "loss_at_stake": ZERO}
        )
        entry["closes_on"] = max(entry["closes_on"], row.date_sold)
        entry["shares"] += row.wash_open_qty
        entry["loss_at_stake"] += row.wash_open_loss
    result = []
    for entry in by_symbol.values():
        closes = entry["closes_on"] + dt.timedelta(days=engine.WASH_WINDOW_DAYS)
        result.append(
            {
                "symbol": entry["symbol"],
                "closes_on": closes,
                "days_left": (closes - today).days,
                "shares": entry["shares"],
                "loss_at_stake": cents(entry["loss_at_stake"]),
            }
        )
    return result


# -- compliance helpers ---------------------------------------------------------------------------------
def day_trades(*, start: dt.date, end: dt.date, account: str = "default") -> list[dict]:
    """Day trades of platform fills between ``start`` and ``end`` (inclusive).

    A day trade is a purchase followed by a sale of the same symbol on the same day (FINRA Rule
    4210(f)(8)(B)); orders, not their partial fills, are counted; buy-sell-buy-sell is two.
    """
    trades = (
        TaxTrade.objects.filter(account=account, origin=TaxTrade.Origin.FILL, trade_date__range=(start, end))
        .order_by("trade_date", "symbol", "executed_at", "id")
        .values("trade_date", "symbol", "side", "trade_id", "executed_at")
    )
    grouped: dict[tuple[dt.date, str], list[dict]] = defaultdict(list)
    for t in trades:
        grouped[(t["trade_date"], t["symbol"])].append(t)
    result = []
    for (day, symbol), items in grouped.items():
        seen_orders: set[tuple[str, str]] = set()
        holding_buy = False
        count = 0
        for t in items:
            key = (t["side"], t["trade_id"])
            if key in seen_orders:
                continue
            seen_orders.add(key)
            if t["side"] == engine.BUY:
                holding_buy = True
            elif holding_buy:
                count += 1
                holding_buy = False
        if count:
            result.append({"date": day, "symbol": symbol, "count": count})
    return sorted(result, key=lambda d: (d["date"], d["symbol"]))
