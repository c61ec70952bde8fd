"""Optional pre-trade check: refuse orders that would trigger a wash sale (``TAX_WASH_SALE_BLOCK``).

Off by default: a wash sale is not illegal, only a deferral of the loss; some teams prefer to
avoid them. The check runs the same engine preview the order form shows.
"""

from __future__ import annotations

from decimal import Decimal

from orders.pretrade import OrderIntent, PreTradeRejection
from tax import conf, engine
from tax.selectors import wash_sale_preview
from trading_site.lib.errors import DomainError

# Protective orders are never held back for tax reasons.
EXEMPT_SOURCES = frozenset({"kill_switch", "risk", "reconcile"})


def wash_sale_check(intent: OrderIntent) -> None:
    if not conf.WASH_SALE_BLOCK or intent.source in EXEMPT_SOURCES:
        return

    price = intent.limit_price or intent.reference_price
    if price is None:
        if intent.side == engine.SELL:
            return  # without a price a sale's gain or loss is unknown
        price = Decimal(1)  # a buy's wash match does not depend on its price
    try:
        preview = wash_sale_preview(symbol=intent.symbol, side=intent.side, qty=intent.qty, price=price, now=intent.now)
    except DomainError:
        return  # e.g. a sell larger than the tax position: not this check's business
    if preview.would_wash:
        raise PreTradeRejection(
            "WASH_SALE",
            f"{preview.detail} Blocked because TAX_WASH_SALE_BLOCK is on.",
            data={"disallowed_loss": str(preview.disallowed_loss), "shares": str(preview.shares)},
        )
