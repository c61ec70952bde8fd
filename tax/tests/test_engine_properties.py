"""Property tests of the lot engine: whatever the trade sequence, the books balance to the cent."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from tax.engine import FIFO, HIFO, LIFO, SymbolBook, Trade

steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=20),  # days since the previous trade
        st.booleans(),  # sell?
        st.integers(min_value=1, max_value=60),  # quantity (a sell takes at most the open position)
        st.integers(min_value=100, max_value=2500),  # price in cents
        st.integers(min_value=0, max_value=3),  # commission in dollars
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(steps=steps, method=st.sampled_from([FIFO, LIFO, HIFO]))
def test_basis_quantity_and_losses_reconcile(steps, method):
    book = SymbolBook(symbol="P")
    day = dt.date(2023, 1, 2)
    bought_qty = sold_qty = D(0)
    bought_basis = D(0)
    realized, washes = [], []
    for i, (gap, is_sell, qty, cents, fee) in enumerate(steps):
        day += dt.timedelta(days=gap)
        price, commission = D(cents) / 100, D(fee)
        if is_sell:
            qty = min(D(qty), book.open_qty)
            if qty == 0:
                continue
            realized += book.sell(Trade(f"s{i}", day, "sell", "P", qty, price, commission), method=method)
            sold_qty += qty
        else:
            book.buy(Trade(f"b{i}", day, "buy", "P", D(qty), price, commission))
            bought_qty += qty
            bought_basis += qty * price + commission
        washes += book.take_changes().washes
    disallowed = sum((r.adjustment for r in realized), D(0))
    # quantities: every share bought is either open or sold
    assert book.open_qty == bought_qty - sold_qty
    assert sum((r.qty for r in realized), D(0)) == sold_qty
    # basis: purchases plus disallowed losses = open basis + basis of what was sold, exactly
    assert bought_basis + disallowed == sum((lot.basis for lot in book.lots), D(0)) + sum(
        (r.cost_basis for r in realized), D(0)
    )
    # each wash match is recorded once, adds up to the adjustments, and a replacement absorbs one loss
    assert sum((w.disallowed_loss for w in washes), D(0)) == disallowed
    assert max(Counter(w.replacement_lot_id for w in washes).values(), default=0) <= 1
    for r in realized:
        loss = r.cost_basis - r.proceeds
        assert D(0) <= r.adjustment <= max(loss, D(0))  # never more than the loss; gains never adjusted
        assert r.gain_loss == r.proceeds - r.cost_basis + r.adjustment  # (the definition: cannot fail alone)
        assert r.adjustment == 0 or r.gain_loss <= 0  # a disallowed loss never turns a sale into a gain
        assert r.wash_open_loss == 0 or r.wash_open_qty > 0  # an open loss always has open shares left
        assert r.holding_start <= r.date_acquired
    for w in washes:
        assert abs((w.replacement_acquired - w.date_sold).days) <= 30
