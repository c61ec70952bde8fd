"""Downloads: realized CSV, Form 8949 CSV, the daily trade blotter and the monthly compliance report.

The console links these (``blotter_csv(day=)``, ``form8949_csv(year=)``, ``compliance_report(month=)``
and the stored :class:`~tax.models.TaxExport` rows written by the beat jobs).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.db import transaction
from django.db.models import Q

from orders.models import OrderEvent
from tax import engine
from tax.models import AppliedSplit, LotAdjustment, RealizedGain, TaxExport, TaxTrade
from tax.selectors import (
    COVERAGE_NOTE,
    Totals,
    cents,
    day_trades,
    qty_text,
    realized_rows,
    wash_sale_rows,
)
from trading_site.lib import clock
from trading_site.lib.csvsafe import csv_writer
from trading_site.lib.money import ZERO
from trading_site.models import ActionLog

REALIZED_COLUMNS = [
    "sale_trade_id",
    "lot_trade_id",
    "symbol",
    "qty",
    "date_acquired",
    "date_sold",
    "proceeds",
    "cost_basis",
    "adjustment_code",
    "adjustment_amount",
    "gain_loss",
    "term",
]
F8949_COLUMNS = [
    "part",
    "box",
    "(a) description of property",
    "(b) date acquired",
    "(c) date sold or disposed of",
    "(d) proceeds",
    "(e) cost or other basis",
    "(f) code(s)",
    "(g) amount of adjustment",
    "(h) gain or (loss)",
]
FORM_8949_NOTE = (
    "Box A / D: short- / long-term, reported on Form 1099-B with basis reported to the IRS. Figures follow "
    "the platform's lot method; the broker's 1099-B (FIFO at Alpaca) is the filed record. " + COVERAGE_NOTE
)


def _csv(rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\n")
    writer.writerows(rows)
    return out.getvalue()


class _Line:
    """A file-like whose ``write`` hands the text back: ``csv_writer(_Line()).writerow(row)`` is one line."""

    def write(self, text: str) -> str:
        return text


def _csv_lines(rows: Iterable[list]) -> Iterator[str]:
    writer = csv_writer(_Line(), lineterminator="\n")
    for row in rows:
        yield writer.writerow(row)


# Streamed downloads: ``*_lines`` yield the file a CSV line at a time from a server-side cursor (the
# tax_report command and the console write them as they come); ``*_csv`` join them for the stored
# exports and small periods.
def realized_lines(*, year: int | None = None, account: str = "default") -> Iterator[str]:
    rows = ([r[c] for c in REALIZED_COLUMNS] for r in realized_rows(year=year, account=account))
    return _csv_lines(itertools.chain([REALIZED_COLUMNS], rows))


def realized_csv(*, year: int | None = None, account: str = "default") -> str:
    return "".join(realized_lines(year=year, account=account))


def _form_date(iso: str) -> str:
    return f"{iso[5:7]}/{iso[8:10]}/{iso[:4]}"  # YYYY-MM-DD → MM/DD/YYYY


def form8949_rows(*, year: int | None = None, account: str = "default") -> Iterator[list[str]]:
    """Part I (short-term, box A) and Part II (long-term, box D): broker-reported, basis reported.

    Each part ends with a totals row (columns d, e, g, h); column h = d − e + g per row. One
    streamed query per part.
    """
    yield F8949_COLUMNS
    for part, box, term in (("I", "A", engine.SHORT), ("II", "D", engine.LONG)):
        totals = {"d": ZERO, "e": ZERO, "g": ZERO, "h": ZERO}
        for r in realized_rows(year=year, account=account, term=term):
            yield [
                part,
                box,
                f"{r['qty']} sh {r['symbol']}",
                _form_date(r["date_acquired"]),
                _form_date(r["date_sold"]),
                r["proceeds"],
                r["cost_basis"],
                r["adjustment_code"],
                r["adjustment_amount"] if r["adjustment_code"] else "",
                r["gain_loss"],
            ]
            totals["d"] += Decimal(r["proceeds"])
            totals["e"] += Decimal(r["cost_basis"])
            totals["g"] += Decimal(r["adjustment_amount"])
            totals["h"] += Decimal(r["gain_loss"])
        yield [
            part,
            box,
            "Totals",
            "",
            "",
            *(str(cents(totals[c])) for c in "de"),
            "",
            *(str(cents(totals[c])) for c in "gh"),
        ]
    yield ["note", "", FORM_8949_NOTE] + [""] * (len(F8949_COLUMNS) - 3)


def form8949_lines(*, year: int | None = None, account: str = "default") -> Iterator[str]:
    return _csv_lines(form8949_rows(year=year, account=account))


def form8949_csv(*, year: int | None = None, account: str = "default") -> str:
    return "".join(form8949_lines(year=year, account=account))


# -- daily blotter ----------------------------------------------------------------------------------------
BLOTTER_COLUMNS = [
    "trade_date",
    "executed_at",
    "execution_id",
    "trade_id",
    "order_id",
    "symbol",
    "side",
    "qty",
    "price",
    "commission",
    "source",
    "strategy",
    "lot_relief",
    "realized_gain_loss",
    "wash_sale_disallowed",
    "notes",
]


def blotter_csv(*, day: dt.date, account: str = "default") -> str:
    """Every trade of the day (fills with order, strategy, source), the lots each sale relieved, and
    footnotes for corporate actions: splits effective that day and splits behind relieved lots."""
    trades = list(TaxTrade.objects.filter(account=account, trade_date=day).order_by("executed_at", "id"))
    realized = defaultdict(list)
    # A sale's rows are dated on its trade date: the day's rows, by the (account, date_sold, ...) index.
    for r in RealizedGain.objects.filter(
        account=account,
        date_sold=day,
        sale_execution_id__in=[t.execution_id for t in trades if t.side == engine.SELL],
    ).order_by("sale_seq", "lot_seq"):
        realized[r.sale_execution_id].append(r)
    relieved_lot_ids = [r.lot_id for rows in realized.values() for r in rows]
    split_adjustments = defaultdict(list)
    for adj in LotAdjustment.objects.filter(lot_id__in=relieved_lot_ids, kind=LotAdjustment.Kind.SPLIT):
        split_adjustments[adj.lot_id].append(adj)
    footnotes: list[str] = []
    footnote_index: dict[str, int] = {}

    def note(text: str) -> str:
        if text not in footnote_index:
            footnotes.append(text)
            footnote_index[text] = len(footnotes)
        return f"[{footnote_index[text]}]"

    day_splits = {s.symbol: s for s in AppliedSplit.objects.filter(account=account, ex_date=day)}
    rows: list[list] = [BLOTTER_COLUMNS]
    for t in trades:
        notes = []
        if t.symbol in day_splits:
            s = day_splits[t.symbol]
            notes.append(
                note(f"{s.symbol} {qty_text(s.ratio_to)}-for-{qty_text(s.ratio_from)} split effective {s.ex_date}")
            )
        relief, gain, disallowed = [], ZERO, ZERO
        for r in realized.get(t.execution_id, []):
            relief.append(f"{r.lot_trade_id}:{qty_text(r.qty)}@{r.date_acquired}")
            gain += r.proceeds - r.cost_basis
            disallowed += r.adjustment_amount
            for adj in split_adjustments.get(r.lot_id, []):
                notes.append(
                    note(
                        f"lot {r.lot_trade_id} ({r.symbol}) adjusted for a split effective {adj.day}: "
                        f"{qty_text(adj.qty_before)} → {qty_text(adj.qty_after)} shares, basis unchanged"
                    )
                )
        if t.error:
            notes.append(note(f"not applied to the tax ledger: {t.error}"))
        rows.append(
            [
                t.trade_date.isoformat(),
                t.executed_at.isoformat() if t.executed_at else "",
                t.execution_id,
                t.trade_id,
                t.order_id or "",
                t.symbol,
                t.side,
                qty_text(t.qty),
                qty_text(t.price),
                str(cents(t.commission)),
                t.source,
                t.strategy,
                ";".join(relief),
                str(cents(gain)) if relief else "",
                str(cents(disallowed)) if disallowed else "",
                " ".join(dict.fromkeys(notes)),
            ]
        )
    for text in footnotes:
        rows.append([f"[{footnote_index[text]}]", text] + [""] * (len(BLOTTER_COLUMNS) - 2))
    for s in day_splits.values():
        if not any(t.symbol == s.symbol for t in trades):
            rows.append(
                [
                    "note",
                    f"{s.symbol} {qty_text(s.ratio_to)}-for-{qty_text(s.ratio_from)} split effective "
                    f"{s.ex_date}: {s.lots_adjusted} open lot(s) adjusted",
                ]
                + [""] * (len(BLOTTER_COLUMNS) - 2)
            )
    return _csv(rows)


# -- monthly compliance ---------------------------------------------------------------------------------------
def _month_bounds(month: str) -> tuple[dt.date, dt.date]:
    try:
        start = dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValueError(f"month {month!r} must be YYYY-MM") from None
    end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return start, end


def _ny_days(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, the day after end 00:00) in New York, for created_at ranges."""
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=clock.NEW_YORK)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=clock.NEW_YORK)
    return lo, hi


def _actions(start: dt.date, end: dt.date, *, prefixes: tuple[str, ...]) -> list[dict]:
    lo, hi = _ny_days(start, end)
    matching = Q()
    for prefix in prefixes:
        matching |= Q(action__startswith=prefix)
    qs = (
        ActionLog.objects.filter(matching, created_at__gte=lo, created_at__lt=hi)
        .select_related("actor")
        .order_by("created_at", "id")
    )
    return [
        {
            "at": entry.created_at.isoformat(),
            "actor": entry.actor.get_username() if entry.actor_id else "system",
            "action": entry.action,
            "object": f"{entry.object_type}:{entry.object_id}" if entry.object_type else "",
            "reason": entry.reason,
            "data": entry.data,
        }
        for entry in qs
    ]


def _pretrade_rejections(start: dt.date, end: dt.date) -> list[dict]:
    """Orders refused by a pre-trade check (limits, rate limits, market hours, rollout caps...)."""
    from django.apps import apps

    if not apps.is_installed("orders"):
        return []

    lo, hi = _ny_days(start, end)
    events = (
        OrderEvent.objects.filter(kind="pretrade_rejected", created_at__gte=lo, created_at__lt=hi)
        .select_related("order", "actor")
        .order_by("created_at", "id")
    )
    return [
        {
            "at": e.created_at.isoformat(),
            "actor": e.actor.get_username() if e.actor_id else "system",
            "action": f"pretrade.reject:{e.data.get('code', '')}",
            "object": f"orders.order:{e.order_id}",
            "reason": e.data.get("detail", ""),
            "data": {"symbol": e.order.symbol, "side": e.order.side, "qty": str(e.order.qty), "source": e.order.source},
        }
        for e in events
    ]


# ActionLog actions read from the other apps (risk, orders); absent apps simply yield nothing.
LIMIT_BREACH_ACTIONS = ("circuit_breaker.trip",)
KILL_SWITCH_ACTIONS = ("kill_switch.",)
MANUAL_ORDER_ACTIONS = ("order.manual",)


def _compliance_parts(*, month: str, account: str) -> tuple[dict, Iterator[dict], dict]:
    """The report's head, its wash sales (streamed) and the rest. The realized totals are summed
    over a server-side cursor without keeping the rows."""
    start, end = _month_bounds(month)
    totals = Totals()
    for row in realized_rows(account=account, sold=(start, end)):
        totals.add(row)
    trades = day_trades(start=start, end=end, account=account)
    head = {
        "month": month,
        "account": account,
        "generated_at": clock.now().isoformat(),
        "coverage": COVERAGE_NOTE,
        "realized": {**totals.as_dict(), "rows": totals.rows},
    }
    rest = {
        "day_trades": {
            "count": sum(t["count"] for t in trades),
            "days": [{**t, "date": t["date"].isoformat()} for t in trades],
        },
        "limit_breaches": sorted(
            _actions(start, end, prefixes=LIMIT_BREACH_ACTIONS) + _pretrade_rejections(start, end),
            key=lambda a: a["at"],
        ),
        "kill_switch_events": _actions(start, end, prefixes=KILL_SWITCH_ACTIONS),
        "manual_orders": _actions(start, end, prefixes=MANUAL_ORDER_ACTIONS),
    }
    return head, wash_sale_rows(account=account, sold=(start, end)), rest


def compliance_report(*, month: str, account: str = "default") -> dict:
    """Realized totals, wash sales, day trades, limit breaches, kill-switch events, manual orders."""
    head, washes, rest = _compliance_parts(month=month, account=account)
    return {**head, "wash_sales": list(washes), **rest}


def compliance_json_lines(*, month: str, account: str = "default") -> Iterator[str]:
    """:func:`compliance_report` as JSON text, the wash sales streamed one per line."""
    head, washes, rest = _compliance_parts(month=month, account=account)
    yield json.dumps(head, indent=2, default=str)[:-2] + ',\n  "wash_sales": ['
    sep = "\n    "
    for wash in washes:
        yield sep + json.dumps(wash)
        sep = ",\n    "
    yield "],\n" if sep == "\n    " else "\n  ],\n"
    yield json.dumps(rest, indent=2, default=str)[2:]


def compliance_json(*, month: str, account: str = "default") -> str:
    return "".join(compliance_json_lines(month=month, account=account))


def compliance_report_lines(*, month: str, account: str = "default") -> Iterator[str]:
    head, washes, rest = _compliance_parts(month=month, account=account)

    def rows() -> Iterator[list]:
        yield ["section", "field", "value", "detail"]
        yield ["report", "month", head["month"], ""]
        yield ["report", "account", head["account"], ""]
        yield ["report", "coverage", head["coverage"], ""]
        for key in ("short_term_gain", "long_term_gain", "disallowed_loss", "rows"):
            yield ["realized", key, head["realized"][key], ""]
        for w in washes:
            yield [
                "wash_sale",
                w["symbol"],
                w["disallowed_loss"],
                f"sale {w['sale_trade_id']} on {w['date_sold']}, {w['qty']} sh replaced by {w['replacement_trade_id']}",
            ]
        yield ["day_trades", "count", rest["day_trades"]["count"], ""]
        for t in rest["day_trades"]["days"]:
            yield ["day_trade", t["symbol"], t["count"], t["date"]]
        for section, key in (
            ("limit_breach", "limit_breaches"),
            ("kill_switch", "kill_switch_events"),
            ("manual_order", "manual_orders"),
        ):
            for a in rest[key]:
                yield [section, a["action"], a["actor"], f"{a['at']} {a['object']} reason: {a['reason']}".strip()]

    return _csv_lines(rows())


def compliance_report_csv(*, month: str, account: str = "default") -> str:
    return "".join(compliance_report_lines(month=month, account=account))


# -- stored downloads ------------------------------------------------------------------------------------------
def export_store(*, kind: str, period: str, content: str, content_type: str = "text/csv") -> TaxExport:
    """Create or replace the stored download for (kind, period)."""
    with transaction.atomic():
        export, _ = TaxExport.objects.update_or_create(
            kind=kind,
            period=period,
            defaults={"content": content, "content_type": content_type, "created_at": clock.now()},
        )
    return export


def blotter_store(*, day: dt.date, account: str = "default") -> TaxExport:
    return export_store(
        kind=TaxExport.Kind.BLOTTER, period=day.isoformat(), content=blotter_csv(day=day, account=account)
    )


def compliance_store(*, month: str, account: str = "default") -> TaxExport:
    return export_store(
        kind=TaxExport.Kind.COMPLIANCE, period=month, content=compliance_report_csv(month=month, account=account)
    )
