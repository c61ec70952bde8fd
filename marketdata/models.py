"""Market data: assets, raw daily bars and corporate actions.

Bars hold *raw* (unadjusted) daily OHLCV as traded, for execution and tax; backward-adjusted series
for signals are derived from bars plus :class:`CorporateAction` rows (see ``marketdata.panels``).
The tables keep the names they had in the strategies app (ADR 0029: moved in state only).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from trading_site.lib.money import price_field, qty_field


class Asset(models.Model):
    symbol = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120, blank=True)
    tradable = models.BooleanField(default=True)
    fractionable = models.BooleanField(default=False)
    min_lot = qty_field(default=1, help_text="minimum order/slice quantity")

    class Meta:
        db_table = "strategies_asset"  # kept from the strategies app (no data moved)
        ordering = ["symbol"]
        constraints = [models.CheckConstraint(condition=Q(min_lot__gt=0), name="asset_min_lot_positive")]

    def __str__(self) -> str:
        return self.symbol



class Bar(models.Model):
    """One daily bar, raw prices. Unique per symbol and session date."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="bars")
    session = models.DateField()
    open = price_field()
    high = price_field()
    low = price_field()
    close = price_field()
    volume = qty_field(null=True, blank=True, help_text="null when the source has no volume")
    source = models.CharField(max_length=20, default="bundled")
    original_session = models.DateField(
        null=True, blank=True, help_text="demo market: the real date whose prices this re-dated bar carries"
    )

    class Meta:
        db_table = "strategies_bar"  # kept from the strategies app (no data moved)
        ordering = ["asset_id", "session"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "session"], name="bar_unique_asset_session"),
            models.CheckConstraint(
                condition=Q(low__gt=0)
                & Q(low__lte=F("high"))
                & Q(open__gte=F("low"))
                & Q(open__lte=F("high"))
                & Q(close__gte=F("low"))
                & Q(close__lte=F("high")),
                name="bar_ohlc_consistent",
            ),
        ]
        indexes = [models.Index(fields=["session"])]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.session} c={self.close}"



class CorporateAction(models.Model):
    class Kind(models.TextChoices):
        SPLIT = "split"
        DIVIDEND = "dividend"

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="corporate_actions")
    ex_date = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Split: ratio_to new shares for ratio_from old (2-for-1: from=1, to=2).
    ratio_from = qty_field(null=True, blank=True)
    ratio_to = qty_field(null=True, blank=True)
    cash_amount = price_field(null=True, blank=True, help_text="dividend per share")
    source = models.CharField(max_length=20, default="bundled")

    class Meta:
        db_table = "strategies_corporateaction"  # kept from the strategies app (no data moved)
        ordering = ["asset_id", "ex_date"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "ex_date", "kind"], name="ca_unique_asset_date_kind"),
            models.CheckConstraint(
                condition=~Q(kind="split") | (Q(ratio_from__gt=0) & Q(ratio_to__gt=0)),
                name="ca_split_has_ratio",
            ),
            models.CheckConstraint(condition=~Q(kind="dividend") | Q(cash_amount__gt=0), name="ca_dividend_has_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.kind} {self.ex_date}"
