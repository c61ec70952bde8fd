"""The order ledger: orders, fills, positions, account snapshots and the append-only order events.

Invariants are enforced by the database (check and unique constraints), not by ``save()``:

- ``Order.client_order_id`` is unique: the same id twice is the same order (idempotency).
- ``Fill.execution_id`` is unique: a broker execution is recorded at most once.
- ``0 < qty`` and ``0 <= filled_qty <= qty``; a limit order has a positive limit price.
- ``OrderEvent`` rows are never updated or deleted (a database trigger refuses it, see migration 0002).

The ``Sim*`` models at the bottom are the *simulated exchange's own book* (what the broker knows),
kept apart from the ledger so reconciliation can compare the two exactly as it does with Alpaca.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from trading_site.lib.money import money_field, price_field, qty_field


class Side(models.TextChoices):
    BUY = "buy"
    SELL = "sell"


class OrderType(models.TextChoices):
    MARKET = "market"
    LIMIT = "limit"


class TimeInForce(models.TextChoices):
    DAY = "day"
    GTC = "gtc"


class OrderStatus(models.TextChoices):
    SCHEDULED = "scheduled"  # a TWAP slice waiting for its time; never sent yet
    NEW = "new"
    SUBMITTING = "submitting"  # committed locally, broker call in flight
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"
    UNKNOWN = "unknown"  # broker outcome not known (timeout, 5xx): the resolver asks the broker


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.FAILED}
)
OPEN_STATUSES = frozenset(
    {
        OrderStatus.NEW,
        OrderStatus.SUBMITTING,
        OrderStatus.SUBMITTED,
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.UNKNOWN,
    }
)


class OrderSource(models.TextChoices):
    MANUAL = "manual"
    API = "api"
    SIGNAL = "signal"
    TWAP = "twap"
    RISK = "risk"
    KILL_SWITCH = "kill_switch"
    RECONCILE = "reconcile"


class Order(models.Model):
    client_order_id = models.CharField(max_length=128, unique=True)
    broker_order_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4, choices=Side.choices)
    order_type = models.CharField(max_length=10, choices=OrderType.choices, default=OrderType.MARKET)
    qty = qty_field()
    limit_price = price_field(null=True, blank=True)
    time_in_force = models.CharField(max_length=4, choices=TimeInForce.choices, default=TimeInForce.DAY)
    extended_hours = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.NEW)
    source = models.CharField(max_length=12, choices=OrderSource.choices)
    strategy = models.CharField(max_length=60, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    reject_code = models.CharField(max_length=60, blank=True)
    reject_detail = models.TextField(blank=True)
    reference_price = price_field(null=True, blank=True, help_text="last price when the order was placed")
    filled_qty = qty_field(default=Decimal(0))
    filled_notional = money_field(default=Decimal(0))
    avg_fill_price = price_field(null=True, blank=True)
    commission = money_field(default=Decimal(0))
    # TWAP parent/child structure (used by the TWAP work; null for ordinary orders).
    parent_order = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    slice_num = models.PositiveIntegerField(null=True, blank=True)
    total_slices = models.PositiveIntegerField(null=True, blank=True)
    scheduled_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(qty__gt=0), name="order_qty_positive"),
            models.CheckConstraint(condition=Q(filled_qty__gte=0), name="order_filled_nonnegative"),
            models.CheckConstraint(condition=Q(filled_qty__lte=F("qty")), name="order_filled_lte_qty"),
            models.CheckConstraint(
                condition=~Q(order_type="limit") | Q(limit_price__gt=0), name="order_limit_has_price"
            ),
            models.CheckConstraint(
                condition=~Q(order_type="market") | Q(limit_price__isnull=True), name="order_market_no_price"
            ),
            models.CheckConstraint(condition=Q(side__in=["buy", "sell"]), name="order_side_valid"),
            models.CheckConstraint(condition=Q(status__in=[s.value for s in OrderStatus]), name="order_status_valid"),
            models.CheckConstraint(condition=Q(commission__gte=0), name="order_commission_nonnegative"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["symbol", "created_at"]),
            models.Index(fields=["source", "created_at"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["scheduled_time"], condition=Q(status="scheduled"), name="order_scheduled_due"),
        ]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.side} {self.qty} {self.symbol} [{self.status}]"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty


class Fill(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    execution_id = models.CharField(max_length=128, unique=True)
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4, choices=Side.choices)
    qty = qty_field()
    price = price_field()
    commission = money_field(default=Decimal(0))
    executed_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    origin = models.CharField(max_length=12, default="stream", help_text="stream, simulated, poll or reconcile")

    class Meta:
        ordering = ["executed_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(qty__gt=0), name="fill_qty_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="fill_price_positive"),
            models.CheckConstraint(condition=Q(commission__gte=0), name="fill_commission_nonnegative"),
        ]
        indexes = [models.Index(fields=["symbol", "executed_at"]), models.Index(fields=["executed_at"])]

    def __str__(self) -> str:
        return f"{self.execution_id} {self.side} {self.qty} {self.symbol} @ {self.price}"


class Position(models.Model):
    """Net position per symbol, maintained from fills. ``qty`` is signed (negative = short)."""

    symbol = models.CharField(max_length=16, unique=True)
    qty = qty_field(default=Decimal(0))
    avg_cost = price_field(default=Decimal(0))
    realized_pnl = money_field(default=Decimal(0))
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(condition=~Q(qty=0) | Q(avg_cost=0), name="position_flat_has_no_cost"),
            models.CheckConstraint(condition=Q(avg_cost__gte=0), name="position_avg_cost_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.qty} @ {self.avg_cost}"


class AccountSnapshot(models.Model):
    """The broker account at a point in time (the equity curve is a series of these)."""

    time = models.DateTimeField(db_index=True)
    cash = money_field()
    equity = money_field()
    buying_power = money_field()
    long_market_value = money_field(default=Decimal(0))
    short_market_value = money_field(default=Decimal(0))
    broker = models.CharField(max_length=20)
    pattern_day_trader = models.BooleanField(null=True, blank=True)
    daytrade_count = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-time", "-id"]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M} equity={self.equity}"


class OrderEvent(models.Model):
    """Append-only history of an order: every state change and every notable update."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    created_at = models.DateTimeField()
    kind = models.CharField(max_length=30)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["order", "created_at"])]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.from_status}->{self.to_status}"


# --- The simulated exchange's own book --------------------------------------------------------------


class SimOrder(models.Model):
    """An order as the simulated exchange knows it (the broker side, not the ledger)."""

    broker_order_id = models.CharField(max_length=64, unique=True)
    client_order_id = models.CharField(max_length=128, unique=True)
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4)
    order_type = models.CharField(max_length=10)
    qty = qty_field()
    limit_price = price_field(null=True, blank=True)
    time_in_force = models.CharField(max_length=4)
    status = models.CharField(max_length=20)
    filled_qty = qty_field(default=Decimal(0))
    filled_notional = money_field(default=Decimal(0))
    commission = money_field(default=Decimal(0))
    fractionable = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_eval_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(filled_qty__lte=F("qty")), name="simorder_filled_lte_qty")]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"sim {self.client_order_id} {self.side} {self.qty} {self.symbol} [{self.status}]"


class SimTradeUpdate(models.Model):
    """The simulated exchange's outgoing trade-update stream (an outbox, delivered in ``seq`` order)."""

    sim_order = models.ForeignKey(SimOrder, on_delete=models.CASCADE, related_name="updates")
    event = models.CharField(max_length=20)
    execution_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    qty = qty_field(null=True, blank=True)
    price = price_field(null=True, blank=True)
    commission = money_field(default=Decimal(0))
    cum_qty = qty_field(default=Decimal(0))
    cum_notional = money_field(default=Decimal(0))
    status = models.CharField(max_length=20)
    timestamp = models.DateTimeField()
    delivered = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["id"], condition=Q(delivered=False), name="simupdate_undelivered")]

    def __str__(self) -> str:
        return f"sim update {self.pk} {self.event}"
