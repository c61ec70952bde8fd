"""Chart specifications: pure functions from the selectors' figures to the JSON the console's charts draw.

The pages embed each spec with ``json_script`` (data, not code: the Content-Security-Policy allows no
inline script) and ``static/js/charts.js`` draws it with the vendored uPlot (ADR 0020). No ORM, no
clock here. A spec is a plain dict of JSON primitives:

- ``{"kind": "line", "x": [unix seconds...], "series": [{"label", "values", "style"}...],
  "y_label", "ranges": bool}`` — time on x; ``values`` hold numbers or null (a gap); ``style`` is
  ``line`` (default), ``area`` or ``points`` (markers only, e.g. fills on a price path); a series
  with ``"axis": "right"`` is drawn against a second y axis;
- ``{"kind": "bar", "labels": [...], "series": [{"label", "values"}...], "y_label"}`` — categories on x.

Money becomes float here, at the boundary: charts are pictures, the ledger stays Decimal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

Point = tuple[dt.datetime, Decimal]


def _ts(t: dt.datetime) -> int:
    return int(t.timestamp())


def _f(value: Decimal | float | None, places: int = 2) -> float | None:
    return None if value is None else round(float(value), places)


def series(label: str, values: Iterable[float | None], *, style: str = "line", axis: str = "left") -> dict:
    spec = {"label": label, "values": list(values), "style": style}
    if axis != "left":
        spec["axis"] = axis
    return spec


def line_spec(x: Sequence[dt.datetime], lines: list[dict], *, y_label: str, ranges: bool = False) -> dict | None:
    """A time-series spec; None for fewer than two points (nothing to draw a line through)."""
    if len(x) < 2:
        return None
    return {"kind": "line", "x": [_ts(t) for t in x], "series": lines, "y_label": y_label, "ranges": ranges}


def bar_spec(labels: list[str], bars: list[dict], *, y_label: str) -> dict | None:
    if not labels:
        return None
    return {"kind": "bar", "labels": labels, "series": bars, "y_label": y_label}


def equity_vs_benchmark(equity: list[Point], benchmark: list[tuple[dt.date, Decimal]], *,
                        benchmark_label: str) -> dict | None:
    """Equity snapshots with the benchmark rebased to the first equity (``E_0 × close_t / close_0``).

    The benchmark's daily closes are stepped onto the snapshots' times: each snapshot takes the close
    of the latest session on or before its New York date (None before the benchmark starts).
    """
    if len(equity) < 2:
        return None
    closes = sorted(benchmark)
    rebased: list[float | None] = []
    if closes:
        base_close: Decimal | None = None
        i = -1
        for t, _ in equity:
            day = t.date()
            while i + 1 < len(closes) and closes[i + 1][0] <= day:
                i += 1
            close = closes[i][1] if i >= 0 else None
            if close is not None and base_close is None:
                base_close = close
            rebased.append(None if close is None or not base_close else _f(equity[0][1] * close / base_close))
    lines = [series("Equity", (_f(v) for _, v in equity), style="area")]
    if any(v is not None for v in rebased):
        lines.append(series(f"{benchmark_label} (rebased)", rebased))
    return line_spec([t for t, _ in equity], lines, y_label="USD", ranges=True)


def drawdown(equity: list[Point]) -> dict | None:
    """Drawdown from the running peak, in percent: ``(E_t / max_{s≤t} E_s − 1) × 100``."""
    peak: Decimal | None = None
    values = []
    for _, v in equity:
        peak = v if peak is None or v > peak else peak
        values.append(_f((v / peak - 1) * 100, 3) if peak else None)
    return line_spec([t for t, _ in equity], [series("Drawdown %", values, style="area")], y_label="%", ranges=True)


def allocation(rows: list[tuple[str, Decimal]], *, label: str, y_label: str = "%") -> dict | None:
    """Bars of a breakdown (by strategy, by symbol), largest first."""
    rows = sorted(rows, key=lambda r: (-abs(r[1]), r[0]))
    return bar_spec([name for name, _ in rows], [series(label, (_f(v, 4) for _, v in rows))], y_label=y_label)


def monthly_returns(monthly: list[dict]) -> dict | None:
    """A replay's monthly returns (``{"month": "2010-03", "return": 0.0123}`` rows) as bars, in percent."""
    return bar_spec([m["month"] for m in monthly], [series("Return %", (_f(m["return"] * 100, 3) for m in monthly))],
                    y_label="%")


def exposure_vs_limits(rows: list[tuple[str, Decimal, Decimal]]) -> dict | None:
    """``(name, used, limit)`` bars side by side: position notional per symbol and gross exposure."""
    return bar_spec([name for name, _, _ in rows],
                    [series("Used", (_f(u) for _, u, _ in rows)), series("Limit", (_f(lim) for _, _, lim in rows))],
                    y_label="USD")


def price_with_fills(path: list[Point], fills: list[tuple[dt.datetime, str, Decimal]], *,
                     symbol: str, ranges: bool = True) -> dict | None:
    """A symbol's price path with buy and sell fills as markers on a shared time axis."""
    times = sorted({t for t, _ in path} | {t for t, _, _ in fills})
    price = dict(path)
    buys = {t: p for t, side, p in fills if side == "buy"}
    sells = {t: p for t, side, p in fills if side == "sell"}
    lines = [series(symbol, (_f(price.get(t), 4) for t in times))]
    if buys:
        lines.append(series("Buy fills", (_f(buys.get(t), 4) for t in times), style="points"))
    if sells:
        lines.append(series("Sell fills", (_f(sells.get(t), 4) for t in times), style="points"))
    return line_spec(times, lines, y_label="USD", ranges=ranges)


def twap_slices(slices: list[tuple[dt.datetime, Decimal | None, Decimal]], *, path: list[Point],
                arrival: Decimal | None) -> dict | None:
    """A TWAP parent's slices (time, fill price or None, cumulative filled qty) against the price path.

    The price path is the symbol's fills and quotes around the parent; the arrival price is a flat
    reference line; the cumulative filled quantity is drawn against the right axis.
    """
    times = sorted({t for t, _, _ in slices} | {t for t, _ in path})
    price = dict(path)
    fill = {t: p for t, p, _ in slices if p is not None}
    cumulative: dict[dt.datetime, Decimal] = {t: q for t, _, q in slices}
    running: Decimal | None = None
    cum_values = []
    for t in times:
        running = cumulative.get(t, running)
        cum_values.append(_f(running, 6))
    lines = [series("Price path", (_f(price.get(t), 4) for t in times)),
             series("Slice fills", (_f(fill.get(t), 4) for t in times), style="points")]
    if arrival is not None:
        lines.append(series("Arrival", [_f(arrival, 4)] * len(times)))
    lines.append(series("Filled qty", cum_values, axis="right"))
    return line_spec(times, lines, y_label="USD")
