"""Market data and strategy models.

Bars hold *raw* (unadjusted) daily OHLCV as traded, for execution and tax; backward-adjusted series
for signals are derived from bars plus :class:`CorporateAction` rows (see ``marketdata.panels``).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from marketdata.models import Asset


class Strategy(models.Model):
    """A configured strategy: one of the vectorised kinds in ``strategies.library`` with its parameters.

    ``capital_cap`` is the largest fraction of the gross exposure the allocator may give it.
    """

    class Kind(models.TextChoices):
        SMA_CROSSOVER = "sma_crossover"
        MOMENTUM = "momentum"
        MEAN_REVERSION = "mean_reversion"
        ENSEMBLE = "ensemble"

    name = models.CharField(max_length=60, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    parameters = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    capital_cap = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.40"), help_text="max fraction of gross exposure"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "strategies"
        constraints = [
            models.CheckConstraint(
                condition=Q(capital_cap__gt=0) & Q(capital_cap__lte=1), name="strategy_capital_cap_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StrategySymbol(models.Model):
    """A symbol in a strategy's universe, with its own on/off toggle."""

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="symbols")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["strategy_id", "asset__symbol"]
        constraints = [models.UniqueConstraint(fields=["strategy", "asset"], name="strategysymbol_unique")]

    def __str__(self) -> str:
        return f"{self.strategy_id}:{self.asset_id} {'on' if self.enabled else 'off'}"


class Signal(models.Model):
    """One strategy's score and target weight for a symbol, as computed by one signal run."""

    run_id = models.CharField(max_length=64, db_index=True)
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="signals")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    session = models.DateField(help_text="the session whose close the signal uses (as-of date)")
    score = models.FloatField(null=True, blank=True)
    target_weight = models.DecimalField(max_digits=12, decimal_places=9)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-session", "strategy_id", "asset_id"]
        constraints = [
            models.UniqueConstraint(fields=["run_id", "strategy", "asset"], name="signal_unique_run_strategy_asset"),
            models.CheckConstraint(
                condition=Q(target_weight__gte=0) & Q(target_weight__lte=1), name="signal_weight_range"
            ),
        ]
        indexes = [models.Index(fields=["strategy", "-session"])]

    def __str__(self) -> str:
        return f"{self.run_id} {self.strategy_id} {self.asset_id} w={self.target_weight}"
