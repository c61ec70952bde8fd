"""Server-rendered SVG charts: pure functions from points to drawing coordinates (no ORM, no clock).

The equity curve is a polyline in a fixed viewBox; the template draws it with ``preserveAspectRatio``
off so it stretches to the card's width at any screen size, with no JavaScript and no chart library.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT, PAD = 600, 180, 4


@dataclass(frozen=True, slots=True)
class LineChart:
    points: str  # "x,y x,y ..." for <polyline points>
    area: str  # closed polygon under the line
    low: Decimal
    high: Decimal
    first_time: dt.datetime
    last_time: dt.datetime
    first: Decimal
    last: Decimal
    count: int
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def rising(self) -> bool:
        return self.last >= self.first


def line_chart(series: list[tuple[dt.datetime, Decimal]]) -> LineChart | None:
    """Scale ``(time, value)`` pairs (oldest first) into the viewBox; None for fewer than 2 points.

    x is proportional to time (gaps stay visible), y spans [low, high] with a flat series drawn mid-height.
    """
    if len(series) < 2:
        return None
    t0, t1 = series[0][0], series[-1][0]
    span_t = (t1 - t0).total_seconds() or 1.0
    values = [v for _, v in series]
    low, high = min(values), max(values)
    span_v = float(high - low)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    coords = []
    for t, v in series:
        x = PAD + inner_w * (t - t0).total_seconds() / span_t
        y = PAD + inner_h / 2 if span_v == 0 else PAD + inner_h * (1 - float(v - low) / span_v)
        coords.append(f"{x:.1f},{y:.1f}")
    bottom = HEIGHT - PAD
    area = f"{PAD:.1f},{bottom:.1f} " + " ".join(coords) + f" {WIDTH - PAD:.1f},{bottom:.1f}"
    return LineChart(
        points=" ".join(coords),
        area=area,
        low=low,
        high=high,
        first_time=t0,
        last_time=t1,
        first=values[0],
        last=values[-1],
        count=len(series),
    )
