"""Transaction-cost analysis (TCA) of TWAP parents, and the TWAP-vs-single-order study.

Per parent (:func:`parent_tca`):

- arrival price: the last price when the parent was created (``Order.reference_price``);
- average fill price: Σ notional ÷ Σ filled quantity over the children;
- implementation shortfall in bps: ``side × (avg − arrival) ÷ arrival × 10⁴`` (buy +1, sell −1:
  positive = it cost money);
- the estimated cost of ONE order of the same size under the simulated exchange's own model
  (``orders.brokers.simulated.model_cost_bps``: half-spread + ``coef × √(qty / ADV)``), beside the
  same model's estimate for the slices as executed.

The study (:func:`twap_vs_single_day`) replays historical days on the simulated exchange's pricing
functions — the intraday path (:func:`~orders.brokers.simulated.path_price`) and the fill price
(:func:`~orders.brokers.simulated.model_fill_price`), i.e. the exact code the exchange fills with —
once as a TWAP (each slice at its time and size) and once as a single order at arrival with the
participation cap lifted (with the cap the exchange would itself spread the order over time). The
cost of a fill is measured against the path price at that moment; the shortfall against arrival is
reported too (it also contains the day's drift, which is noise for this comparison).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from marketdata import selectors as market
from orders.brokers.simulated import SESSION_MINUTES, model_cost_bps, model_fill_price, path_price
from orders.conf import conf
from orders.models import Order
from orders.twap import TWAPSlicer
from trading_site.lib import clock

BPS = Decimal(10000)
_BP_PLACES = Decimal("0.01")


def _bps(value: Decimal) -> Decimal:
    return value.quantize(_BP_PLACES, rounding=ROUND_HALF_EVEN)


def _sign(side: str) -> int:
    return 1 if side == "buy" else -1


def shortfall_bps(*, side: str, arrival: Decimal, avg_price: Decimal) -> Decimal:
    """Implementation shortfall in bps (positive = paid more than arrival for a buy)."""
    return _bps(_sign(side) * (avg_price - arrival) / arrival * BPS)


def symbol_adv(*, symbol: str, on: dt.date | None = None) -> Decimal:
    """ADV as the simulated exchange assumes it: 20-session mean volume, else the bar's, else SIM_DEFAULT_ADV."""
    on = on or clock.now().astimezone(clock.NEW_YORK).date()
    bar = market.latest_daily_bar(symbol=symbol, on_or_before=on)
    if bar is None:
        return conf.sim_default_adv
    return market.average_daily_volume(symbol=symbol, before=bar.session) or bar.volume or conf.sim_default_adv


@dataclass(frozen=True, slots=True)
class ParentTCA:
    arrival_price: Decimal | None
    avg_fill_price: Decimal | None
    filled_qty: Decimal
    shortfall_bps: Decimal | None
    adv: Decimal
    est_single_order_bps: Decimal
    est_slices_bps: Decimal
    est_reduction_pct: Decimal

    def as_dict(self) -> dict:
        return {k: (None if v is None else str(v)) for k, v in asdict(self).items()}


def parent_tca(*, parent: Order, children: list[Order] | None = None, adv: Decimal | None = None) -> ParentTCA:
    children = list(parent.children.all()) if children is None else children
    filled = sum((c.filled_qty for c in children), Decimal(0))
    notional = sum((c.filled_notional for c in children), Decimal(0))
    avg = (notional / filled).quantize(Decimal("0.000001")) if filled else None
    arrival = parent.reference_price
    adv = adv if adv is not None else symbol_adv(symbol=parent.symbol)
    single = model_cost_bps(qty=parent.qty, adv=adv)
    sized = [c.qty for c in children] or [parent.qty]
    sliced = sum((q * model_cost_bps(qty=q, adv=adv) for q in sized), Decimal(0)) / sum(sized, Decimal(0))
    return ParentTCA(
        arrival_price=arrival,
        avg_fill_price=avg,
        filled_qty=filled,
        shortfall_bps=shortfall_bps(side=parent.side, arrival=arrival, avg_price=avg) if avg and arrival else None,
        adv=adv,
        est_single_order_bps=_bps(single),
        est_slices_bps=_bps(sliced),
        est_reduction_pct=_bps((1 - sliced / single) * 100) if single else Decimal(0),
    )


# --- the study: TWAP vs one order on historical days ------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayComparison:
    session: dt.date
    arrival: Decimal
    twap_avg_price: Decimal
    single_price: Decimal
    twap_cost_bps: Decimal  # fills vs the path price at each fill (half-spread + impact + tick)
    single_cost_bps: Decimal
    twap_shortfall_bps: Decimal  # vs arrival (includes the day's drift)
    single_shortfall_bps: Decimal


def twap_vs_single_day(
    *,
    bar: market.BarData,
    adv: Decimal,
    side: str,
    qty: Decimal,
    slices: int,
    horizon_minutes: int,
    start_minute: int = 30,
) -> DayComparison:
    """One historical day: a TWAP of ``slices`` over ``horizon_minutes`` vs one order at the start."""
    sign = _sign(side)
    start = dt.datetime.combine(bar.session, dt.time(0), tzinfo=dt.UTC)  # only offsets matter below
    plan = TWAPSlicer(total_qty=qty, n_slices=slices, horizon=dt.timedelta(minutes=horizon_minutes)).plan(start)

    def frac(minutes: float) -> Decimal:
        return Decimal(str(minutes)) / SESSION_MINUTES

    arrival = path_price(bar, frac(start_minute), seed=conf.sim_seed)
    notional = cost = Decimal(0)
    for p in plan:
        minute = start_minute + (p.scheduled_time - start).total_seconds() / 60
        mid = path_price(bar, frac(minute), seed=conf.sim_seed)
        fill = model_fill_price(side=side, price=mid, qty=p.qty, adv=adv)
        notional += p.qty * fill
        cost += p.qty * sign * (fill - mid) / mid * BPS
    twap_avg = notional / qty
    single = model_fill_price(side=side, price=arrival, qty=qty, adv=adv)
    return DayComparison(
        session=bar.session,
        arrival=arrival,
        twap_avg_price=twap_avg.quantize(Decimal("0.000001")),
        single_price=single,
        twap_cost_bps=_bps(cost / qty),
        single_cost_bps=_bps(sign * (single - arrival) / arrival * BPS),
        twap_shortfall_bps=shortfall_bps(side=side, arrival=arrival, avg_price=twap_avg),
        single_shortfall_bps=shortfall_bps(side=side, arrival=arrival, avg_price=single),
    )


@dataclass(frozen=True, slots=True)
class StudySummary:
    days: int
    twap_cost_bps: Decimal  # mean over days
    single_cost_bps: Decimal
    cost_reduction_pct: Decimal  # total cost (half-spread + impact + tick rounding)
    twap_impact_bps: Decimal  # mean cost minus the half-spread both pay
    single_impact_bps: Decimal
    impact_reduction_pct: Decimal


def study_summarize(days: list[DayComparison]) -> StudySummary:
    if not days:
        raise ValueError("no days to summarize")
    n = Decimal(len(days))
    twap = sum((d.twap_cost_bps for d in days), Decimal(0)) / n
    single = sum((d.single_cost_bps for d in days), Decimal(0)) / n
    half_spread = conf.sim_slippage_bps
    twap_impact, single_impact = twap - half_spread, single - half_spread
    return StudySummary(
        days=len(days),
        twap_cost_bps=_bps(twap),
        single_cost_bps=_bps(single),
        cost_reduction_pct=_bps((1 - twap / single) * 100) if single else Decimal(0),
        twap_impact_bps=_bps(twap_impact),
        single_impact_bps=_bps(single_impact),
        impact_reduction_pct=_bps((1 - twap_impact / single_impact) * 100) if single_impact else Decimal(0),
    )
