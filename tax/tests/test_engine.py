"""The lot engine's rules, with the published worked examples (IRS Pub. 550, Treas. Reg. 1.1091-1/-2).

Pure engine, no database: each test builds a book, applies trades, and checks exact Decimal figures
computed by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from tax.engine import FIFO, HIFO, LIFO, LONG, SHORT, LotError, SymbolBook, Trade, anniversary, term_for

_n = iter(range(1, 10**9))


def _trade(book: SymbolBook, side: str, day: str, qty, price, trade_id, commission, lot_ids=()) -> Trade:
    return Trade(
        trade_id=trade_id or f"{side[0].upper()}{next(_n)}",
        date=dt.date.fromisoformat(day),
        side=side,
        symbol=book.symbol,
        qty=D(str(qty)),
        price=D(str(price)),
        commission=D(commission),
        lot_ids=tuple(lot_ids),
    )


def buy(book: SymbolBook, day: str, qty, price, trade_id: str | None = None, commission="0"):
    return book.buy(_trade(book, "buy", day, qty, price, trade_id, commission))


def sell(book: SymbolBook, day: str, qty, price, *, method=FIFO, lot_ids=(), trade_id=None, commission="0"):
    return book.sell(_trade(book, "sell", day, qty, price, trade_id, commission, lot_ids), method=method)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# -- published worked examples ------------------------------------------------------------------------
def test_pub550_basic_wash_sale_250_disallowed_new_basis_1050():
    # Given 100 shares bought for $1,000 and sold for $750
    book = SymbolBook(symbol="X")
    buy(book, "2024-01-02", 100, 10)
    (row,) = sell(book, "2024-02-01", 100, "7.50")
    assert row.proceeds - row.cost_basis == D("-250")
    # When 100 shares are bought for $800 within 30 days after the sale
    new = buy(book, "2024-02-20", 100, 8)
    # Then the $250 loss is disallowed and the new basis is $1,050
    assert row.adjustment == D("250")
    assert row.gain_loss == D("0")
    assert new.basis == D("1050")
    assert new.qty == D("100")


def test_reg_1091_1_example_2_partial_replacement_before_sale():
    # Given (Treas. Reg. 1.1091-1(h) Ex. 2 / Pub. 550): 100 sh for $5,000 on 1954-09-21,
    # 50 sh for $2,750 on 12-21 and 25 sh for $1,125 on 12-27
    book = SymbolBook(symbol="M")
    buy(book, "1954-09-21", 100, 50)
    dec21 = buy(book, "1954-12-21", 50, 55)
    dec27 = buy(book, "1954-12-27", 25, 45)
    # When the September shares are sold for $4,000 on 1955-01-03 (a $1,000 loss)
    (row,) = sell(book, "1955-01-03", 100, 40)
    # Then the loss on 75 shares ($750) is disallowed, $250 stays deductible
    assert row.adjustment == D("750")
    assert row.gain_loss == D("-250")
    assert row.wash_open_qty == 25  # a purchase in the next 30 days could still replace these
    # and the replacement bases are $3,250 (50 sh) and $1,375 (25 sh)
    assert dec21.basis == D("3250") and dec21.qty == 50
    assert dec27.basis == D("1375") and dec27.qty == 25
    # bought before the sale: the holding periods overlap, so both start with the sold shares' (1954-09-21)
    assert dec21.holding_start == dec27.holding_start == d("1954-09-21")


def test_reg_1091_1_example_1_purchase_19_days_before_sale_disallows_all():
    # Given 100 sh for $10,000 on 1954-12-01 and 100 more for $9,000 on 1954-12-15
    book = SymbolBook(symbol="M")
    buy(book, "1954-12-01", 100, 100)
    dec15 = buy(book, "1954-12-15", 100, 90)
    # When the December 1 shares are sold for $9,000 on 1955-01-03
    (row,) = sell(book, "1955-01-03", 100, 90)
    # Then no loss is allowed and the December 15 shares carry basis $10,000
    assert row.adjustment == D("1000") and row.gain_loss == 0
    assert dec15.basis == D("10000")


def test_reg_1091_1_example_3_first_shares_acquired_replace_and_holding_period_tacks():
    # Given 100 sh for $5,000 on 1954-09-15, sold for $4,000 on 1956-02-01
    book = SymbolBook(symbol="M")
    buy(book, "1954-09-15", 100, 50)
    (row,) = sell(book, "1956-02-01", 100, 40)
    assert row.term == LONG
    # When 50 sh are bought for $2,000 on each of Feb 15, 16, 17 and 18
    lots = [buy(book, f"1956-02-{day}", 50, 40) for day in (15, 16, 17, 18)]
    # Then the Feb 15 and Feb 16 purchases replace the sold shares (basis $2,500 each) ...
    assert [lot.basis for lot in lots] == [D("2500"), D("2500"), D("2000"), D("2000")]
    # ... and their holding period includes the 504 days the sold shares were held
    held = (d("1956-02-01") - d("1954-09-15")).days
    assert held == 504
    assert lots[0].holding_start == d("1956-02-15") - dt.timedelta(days=504) == d("1954-09-29")
    assert lots[1].holding_start == d("1954-09-30")
    assert lots[2].holding_start == d("1956-02-17")
    assert row.adjustment == D("1000")


@pytest.mark.parametrize(("new_price", "new_basis"), [("90", "110"), ("70", "90")])
def test_reg_1091_2_basis_of_new_share(new_price, new_basis):
    # Given one share bought for $100 in 1935 and sold for $80 on 1955-01-15
    book = SymbolBook(symbol="X")
    buy(book, "1935-06-01", 1, 100)
    sell(book, "1955-01-15", 1, 80)
    # When a share is bought on 1955-02-01 for $90 (or $70)
    new = buy(book, "1955-02-01", 1, new_price)
    # Then its basis is $110 (or $90): the old basis adjusted by the price difference
    assert new.basis == D(new_basis)


# -- lot relief methods -------------------------------------------------------------------------------
def _three_lots() -> SymbolBook:
    book = SymbolBook(symbol="ABC")
    buy(book, "2024-01-02", 10, 10, "L1")
    buy(book, "2024-01-03", 10, 30, "L2")
    buy(book, "2024-01-04", 10, 20, "L3")
    buy(book, "2024-01-05", 10, 30, "L4")
    return book


@pytest.mark.parametrize(
    ("method", "expected"),
    [(FIFO, ["L1", "L2"]), (LIFO, ["L4", "L3"]), (HIFO, ["L2", "L4"])],  # HIFO tie L2/L4 → earliest L2
)
def test_methods_pick_lots(method, expected):
    book = _three_lots()
    rows = sell(book, "2024-06-03", 20, 40, method=method)
    assert [r.lot_trade_id for r in rows] == expected


def test_specific_identification_in_named_order_and_partial():
    book = _three_lots()
    rows = sell(book, "2024-06-03", 15, 40, lot_ids=["L3", "L1"])
    assert [(r.lot_trade_id, r.qty, r.cost_basis) for r in rows] == [("L3", 10, D("200")), ("L1", 5, D("50"))]
    assert sum(r.proceeds for r in rows) == D("600")
    assert [lot.trade_id for lot in book.lots] == ["L1", "L2", "L4"]
    assert book.lots[0].qty == 5 and book.lots[0].basis == D("50")


def test_specific_identification_unknown_lot_id_changes_nothing():
    book = _three_lots()
    with pytest.raises(LotError, match="unknown lot id 'L9'"):
        sell(book, "2024-06-03", 5, 40, lot_ids=["L9"])
    assert book.open_qty == 40


def test_sell_larger_than_position_is_a_clear_error_and_changes_nothing():
    book = _three_lots()
    with pytest.raises(LotError, match="exceeds the open position of 40"):
        sell(book, "2024-06-03", 41, 40)
    assert book.open_qty == 40 and [lot.qty for lot in book.lots] == [10, 10, 10, 10]
    assert book.take_changes().realized == []


def test_commission_added_to_basis_and_subtracted_from_proceeds():
    book = SymbolBook(symbol="C")
    buy(book, "2024-01-02", 10, 10, commission="1.00")
    (row,) = sell(book, "2024-03-01", 10, 12, commission="2.00")
    assert (row.cost_basis, row.proceeds, row.gain_loss) == (D("101.00"), D("118.00"), D("17.00"))


# -- term -----------------------------------------------------------------------------------------------
def test_one_year_boundary():
    assert term_for(holding_start=d("2024-03-15"), date_sold=d("2025-03-15")) == SHORT
    assert term_for(holding_start=d("2024-03-15"), date_sold=d("2025-03-16")) == LONG
    # 2024 is a leap year: 366 days later is still only the anniversary
    assert term_for(holding_start=d("2023-03-15"), date_sold=d("2024-03-15")) == SHORT
    # a Feb 29 purchase's anniversary is Feb 28
    assert anniversary(d("2024-02-29")) == d("2025-02-28")
    assert term_for(holding_start=d("2024-02-29"), date_sold=d("2025-02-28")) == SHORT
    assert term_for(holding_start=d("2024-02-29"), date_sold=d("2025-03-01")) == LONG


def test_term_through_the_book():
    book = SymbolBook(symbol="T")
    buy(book, "2024-03-15", 10, 10)
    buy(book, "2024-03-15", 10, 10)
    assert sell(book, "2025-03-15", 10, 11)[0].term == SHORT
    assert sell(book, "2025-03-16", 10, 11)[0].term == LONG


# -- wash-sale window and matching ------------------------------------------------------------------------
@pytest.mark.parametrize(("buy_day", "washed"), [("2024-03-31", True), ("2024-04-01", False)])
def test_window_day_30_after_vs_day_31(buy_day, washed):
    book = SymbolBook(symbol="W")
    buy(book, "2024-01-02", 10, 10)
    (row,) = sell(book, "2024-03-01", 10, 8)  # 2024-03-31 is day 30, 2024-04-01 day 31
    new = buy(book, buy_day, 10, 9)
    assert row.adjustment == (D("20") if washed else 0)
    assert new.basis == (D("110") if washed else D("90"))


@pytest.mark.parametrize(("buy_day", "washed"), [("2024-02-01", True), ("2024-01-31", False)])
def test_window_day_30_before_vs_day_31(buy_day, washed):
    book = SymbolBook(symbol="W")
    buy(book, "2023-06-01", 10, 10)
    buy(book, buy_day, 10, 9)  # 2024-02-01 is 30 days before 2024-03-02
    (row,) = sell(book, "2024-03-02", 10, 8)
    assert row.adjustment == (D("20") if washed else 0)


def test_replacement_bought_before_sale_must_still_be_held():
    book = SymbolBook(symbol="H")
    buy(book, "2024-01-02", 10, 10, "OLD")
    buy(book, "2024-02-20", 10, 9, "NEW")
    # Given the new shares are sold first (at a gain) with specific id
    sell(book, "2024-02-25", 10, 9.5, lot_ids=["NEW"])
    # When the old shares are sold at a loss on 2024-03-01
    (row,) = sell(book, "2024-03-01", 10, 8, lot_ids=["OLD"])
    # Then nothing replaces them: the loss is allowed
    assert row.adjustment == 0 and row.gain_loss == D("-20")
    assert row.wash_open_qty == 10  # a purchase in the next 30 days would still wash it


def test_rest_of_the_very_lot_and_shares_of_the_same_sale_are_not_replacements():
    book = SymbolBook(symbol="R")
    buy(book, "2024-02-01", 100, 10, "A")
    buy(book, "2024-02-05", 10, 12, "B")
    # When 50 of lot A and all of lot B are sold in one sale at a loss
    rows = sell(book, "2024-02-20", 60, 8, lot_ids=["B", "A"])
    # Then neither B's shares nor A's remaining 50 replace the loss
    assert [r.adjustment for r in rows] == [0, 0]
    assert book.lots[0].trade_id == "A" and book.lots[0].basis == D("500")


def test_partial_replacement_after_sale_disallows_only_matching_shares():
    book = SymbolBook(symbol="P")
    buy(book, "2024-01-02", 100, 10)
    (row,) = sell(book, "2024-02-01", 100, 8)  # $200 loss
    new = buy(book, "2024-02-10", 30, 9)
    assert row.adjustment == D("60") and row.gain_loss == D("-140")
    assert new.basis == D("330")
    assert row.wash_open_qty == 70 and row.wash_open_loss == D("140")


def test_a_replacement_share_absorbs_at_most_one_loss():
    book = SymbolBook(symbol="Q")
    buy(book, "2024-01-02", 10, 10)
    buy(book, "2024-01-03", 10, 10)
    (first,) = sell(book, "2024-03-01", 10, 8)
    (second,) = sell(book, "2024-03-02", 10, 7)
    new = buy(book, "2024-03-10", 10, 8)
    assert first.adjustment == D("20") and second.adjustment == 0
    assert new.basis == D("100")
    more = buy(book, "2024-03-11", 10, 8)
    assert second.adjustment == D("30") and more.basis == D("110")


def test_partial_lot_split_off_keeps_totals():
    book = SymbolBook(symbol="S")
    buy(book, "2024-01-02", 30, 10)
    (row,) = sell(book, "2024-02-01", 30, 9)  # $30 loss
    buy(book, "2024-02-05", 100, 9, "BIG")
    rest, replacement = book.lots  # (seq, sub) order: the purchase, then the part split off it
    assert (replacement.qty, replacement.basis, replacement.wash_absorbed) == (30, D("300"), True)
    assert (rest.qty, rest.basis, rest.wash_absorbed) == (70, D("630"), False)
    assert replacement.trade_id == rest.trade_id == "BIG"
    assert row.adjustment == D("30")


def test_chain_washed_replacement_sold_at_loss_and_washed_again():
    book = SymbolBook(symbol="CH")
    buy(book, "2024-01-02", 10, 10)
    (first,) = sell(book, "2024-02-01", 10, 8)  # loss 20
    r1 = buy(book, "2024-02-10", 10, 8)  # basis 80 + 20 = 100, start 2024-02-10 - 30 days
    assert r1.basis == D("100") and r1.holding_start == d("2024-01-11")
    (second,) = sell(book, "2024-03-01", 10, 7)  # proceeds 70, basis 100 → loss 30
    assert second.cost_basis == D("100") and second.proceeds == D("70")
    r2 = buy(book, "2024-03-05", 10, 7)
    assert second.adjustment == D("30") and r2.basis == D("100")
    # holding period: r1 was held from 2024-01-11 to 2024-03-01 (50 days) → r2 starts 50 days before 03-05
    assert r2.holding_start == d("2024-01-15")
    (last,) = sell(book, "2024-04-15", 10, 12)
    assert last.gain_loss == D("20")
    assert first.adjustment + second.adjustment == D("50")


def test_carried_holding_period_turns_long_term():
    book = SymbolBook(symbol="LT")
    buy(book, "2024-01-02", 10, 100)
    sell(book, "2024-10-01", 10, 80)  # held 273 days, $200 loss
    new = buy(book, "2024-10-15", 10, 85)
    assert new.holding_start == d("2024-01-16") and new.basis == D("1050")
    (row,) = sell(book, "2025-01-20", 10, 90)  # after 2025-01-16: long-term thanks to tacking
    assert row.term == LONG and row.gain_loss == D("-150")


def test_gain_sale_with_repurchase_never_triggers():
    book = SymbolBook(symbol="G")
    buy(book, "2024-01-02", 10, 10)
    (row,) = sell(book, "2024-02-01", 10, 12)
    new = buy(book, "2024-02-02", 10, 11)
    assert row.gain_loss == D("20") and row.adjustment == 0 and new.basis == D("110")
    assert book.take_changes().washes == []


# -- splits -----------------------------------------------------------------------------------------------
def test_split_between_buy_and_sell_keeps_basis_and_holding_period():
    book = SymbolBook(symbol="SP")
    lot = buy(book, "2023-01-03", 10, 300)
    book.split(day=d("2023-06-01"), ratio_from=D(1), ratio_to=D(3))
    assert lot.qty == 30 and lot.basis == D("3000") and lot.holding_start == d("2023-01-03")
    rows = sell(book, "2024-02-01", 15, 120)
    assert rows[0].cost_basis == D("1500") and rows[0].proceeds == D("1800") and rows[0].term == LONG
    assert lot.qty == 15 and lot.basis == D("1500")


def test_split_leaves_lots_bought_on_or_after_ex_date():
    book = SymbolBook(symbol="SP")
    before = buy(book, "2023-01-03", 10, 300)
    after = buy(book, "2023-06-01", 10, 100)
    book.split(day=d("2023-06-01"), ratio_from=D(1), ratio_to=D(3))
    assert (before.qty, after.qty) == (30, 10)
