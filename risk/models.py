"""Models of the risk app.

Configuration (admin-changed, audited by django-auditlog and an explicit action with a reason):
:class:`RiskLimits` (one row), :class:`RolloutPhase` (the reference's phases 1-4),
:class:`PositionRisk` (per-symbol stop overrides, plus the trailing stop's high-water mark).

State that must survive restarts: :class:`KillSwitch` (one row; the truth behind the cached check)
with its history :class:`KillSwitchEvent`, :class:`CircuitBreaker` (latched per name),
:class:`EquityWatermark` (start-of-day and peak equity for the loss breakers).
:class:`RiskEvent` is the domain event log (trips, resets, exits, configuration changes).
The PDT counter reads the ledger's fills (``orders.selectors.fills_between``); it keeps no copy.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from trading_site.lib.money import money_field, price_field

PCT_DIGITS, PCT_PLACES = 8, 6


def pct_field(**kwargs) -> models.DecimalField:
    """A fraction (0.02 = 2%)."""
    return models.DecimalField(max_digits=PCT_DIGITS, decimal_places=PCT_PLACES, **kwargs)


class RiskLimits(models.Model):
    """The one row of risk limits (pk=1). Change through ``risk.services.limits_update``."""

    max_order_notional = money_field(default=Decimal("25000"))
    max_position_notional = money_field(default=Decimal("50000"))
    max_gross_exposure = money_field(default=Decimal("200000"))
    price_band_pct = pct_field(default=Decimal("0.05"), help_text="limit price vs last price")
    orders_per_minute = models.PositiveIntegerField(default=60)
    broker_requests_per_minute = models.PositiveIntegerField(default=200)
    daily_loss_pct = pct_field(default=Decimal("0.02"))
    max_drawdown_pct = pct_field(default=Decimal("0.05"))
    daily_loss_auto_reset = models.BooleanField(default=False, help_text="reset the daily-loss breaker at the next session")
    stale_data_sessions = models.PositiveIntegerField(
        default=1, help_text="daily bars may lag the current session by at most this many sessions"
    )
    stop_loss_pct = pct_field(default=Decimal("0.03"))
    take_profit_pct = pct_field(default=Decimal("0.10"))
    trailing_stop_pct = pct_field(null=True, blank=True, help_text="empty: no trailing stop")
    allow_extended_hours = models.BooleanField(default=False, help_text="limit DAY orders flagged extended_hours")
    kill_switch_flatten = models.BooleanField(default=True, help_text="engaging the kill switch flattens positions")
    pdt_rule_enabled = models.BooleanField(default=False, help_text="legacy pattern-day-trader counter")
    pdt_equity_threshold = money_field(default=Decimal("25000"))
    symbol_denylist = models.JSONField(default=list, blank=True)
    rollout_phase = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1-4; empty: no phase")
    rollout_on_paper = models.BooleanField(default=False, help_text="enforce the phase for paper/simulated too")
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "risk limits"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="risk_limits_single_row"),
            models.CheckConstraint(
                condition=Q(max_order_notional__gt=0) & Q(max_position_notional__gt=0) & Q(max_gross_exposure__gt=0),
                name="risk_limits_notional_positive",
            ),
            models.CheckConstraint(
                condition=Q(price_band_pct__gt=0) & Q(daily_loss_pct__gt=0) & Q(max_drawdown_pct__gt=0)
                & Q(stop_loss_pct__gt=0) & Q(take_profit_pct__gt=0),
                name="risk_limits_pct_positive",
            ),
            models.CheckConstraint(
                condition=Q(rollout_phase__isnull=True) | Q(rollout_phase__gte=1, rollout_phase__lte=4),
                name="risk_limits_rollout_phase_range",
            ),
        ]

    def __str__(self) -> str:
        return "risk limits"


class RolloutPhase(models.Model):
    """A graduated-rollout phase: capital cap and symbol allow-list (empty list: the full universe)."""

    number = models.PositiveSmallIntegerField(unique=True)
    name = models.CharField(max_length=60)
    capital_cap = money_field()
    symbols = models.JSONField(default=list, blank=True)
    goal = models.TextField(blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(condition=Q(number__gte=1, number__lte=4), name="rollout_phase_number_range"),
            models.CheckConstraint(condition=Q(capital_cap__gt=0), name="rollout_phase_cap_positive"),
        ]

    def __str__(self) -> str:
        return f"phase {self.number}: {self.name}"


class KillSwitch(models.Model):
    """The one kill-switch row (pk=1): the durable truth behind the cached check."""

    engaged = models.BooleanField(default=False)
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "kill switches"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="kill_switch_single_row")]

    def __str__(self) -> str:
        return "kill switch engaged" if self.engaged else "kill switch off"


class KillSwitchEvent(models.Model):
    class Action(models.TextChoices):
        ENGAGE = "engage"
        RESET = "reset"

    created_at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action}"


class CircuitBreaker(models.Model):
    class Name(models.TextChoices):
        DAILY_LOSS = "daily_loss"
        DRAWDOWN = "drawdown"
        BROKER_ERRORS = "broker_errors"
        STALE_DATA = "stale_data"

    class State(models.TextChoices):
        CLOSED = "closed"  # trading allowed
        OPEN = "open"  # tripped: risk-increasing orders refused

    name = models.CharField(max_length=20, choices=Name.choices, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLOSED)
    tripped_at = models.DateTimeField(null=True, blank=True)
    trip_reason = models.TextField(blank=True)
    trip_session = models.DateField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    reset_at = models.DateTimeField(null=True, blank=True)
    reset_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reset_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.state}"


class EquityWatermark(models.Model):
    """Start-of-session and peak equity (pk=1), updated by the breaker poll."""

    session = models.DateField()
    start_of_day_equity = money_field()
    peak_equity = money_field()
    last_equity = money_field()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="equity_watermark_single_row")]

    def __str__(self) -> str:
        return f"{self.session} start={self.start_of_day_equity} peak={self.peak_equity}"


class RiskEvent(models.Model):
    class Kind(models.TextChoices):
        BREAKER_TRIP = "breaker_trip"
        BREAKER_RESET = "breaker_reset"
        KILL_SWITCH_ENGAGE = "kill_switch_engage"
        KILL_SWITCH_RESET = "kill_switch_reset"
        KILL_SWITCH_UNWIND = "kill_switch_unwind"
        UNWIND_FAILED = "unwind_failed"
        LIMITS_CHANGE = "limits_change"
        ROLLOUT_CHANGE = "rollout_change"
        EXIT_SUBMITTED = "exit_submitted"
        EXIT_FAILED = "exit_failed"
        PDT_WARNING = "pdt_warning"

    created_at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    subject = models.CharField(max_length=40, blank=True, help_text="breaker name, symbol...")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.subject}"


class PositionRisk(models.Model):
    """Per-symbol overrides of the stop rules, and the trailing stop's extreme price since entry."""

    symbol = models.CharField(max_length=16, unique=True)
    stop_loss_pct = pct_field(null=True, blank=True)
    take_profit_pct = pct_field(null=True, blank=True)
    trailing_stop_pct = pct_field(null=True, blank=True)
    disabled = models.BooleanField(default=False, help_text="no automatic exits for this symbol")
    extreme_price = price_field(null=True, blank=True, help_text="highest (long) or lowest (short) price since entry")
    extreme_side = models.CharField(max_length=5, blank=True, help_text="long or short when extreme_price was set")
    entry_price = price_field(null=True, blank=True, help_text="average entry when extreme_price was set")
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol
