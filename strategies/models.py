"""Market data and strategy models.

Bars hold *raw* (unadjusted) daily OHLCV as traded, for execution and tax; backward-adjusted series
for signals are derived from bars plus :class:`CorporateAction` rows (see ``strategies.marketdata``).
"""

from __future__ import annotations

from decimal import Decimal

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


class RunStatus(models.TextChoices):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class RebalanceRun(models.Model):
    """One rebalance of one trading day (unique per day and mode: re-running a day reuses its row)."""

    class Mode(models.TextChoices):
        LIVE = "live"
        REPLAY = "replay"

    day = models.DateField()
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.LIVE)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    method = models.CharField(max_length=32, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    orders_planned = models.PositiveIntegerField(default=0)
    orders_submitted = models.PositiveIntegerField(default=0)
    orders_rejected = models.PositiveIntegerField(default=0)
    failed_step = models.CharField(max_length=20, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-day", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["day", "mode"], name="rebalancerun_unique_day_mode"),
            models.CheckConstraint(
                condition=Q(status__in=["running", "completed", "failed"]), name="rebalancerun_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"rebalance {self.day} [{self.status}]"


class RebalanceStep(models.Model):
    """One step of a rebalance run's dependency chain, with its timing, count and error."""

    run = models.ForeignKey(RebalanceRun, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=20)
    position = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=RunStatus.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    count = models.IntegerField(default=0)
    detail = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run_id", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="rebalancestep_unique_run_name")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.name} [{self.status}]"


class DailyPerformance(models.Model):
    """The market-close report of one trading day (derived from the account snapshots)."""

    day = models.DateField(unique=True)
    equity = models.DecimalField(max_digits=20, decimal_places=2)
    cash = models.DecimalField(max_digits=20, decimal_places=2)
    pnl = models.DecimalField(max_digits=20, decimal_places=2, help_text="equity change since the previous report")
    daily_return = models.FloatField(null=True, blank=True)
    cumulative_return = models.FloatField(null=True, blank=True)
    drawdown = models.FloatField(null=True, blank=True)
    positions = models.PositiveIntegerField(default=0)
    orders_filled = models.PositiveIntegerField(default=0)
    orders_canceled = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-day"]
        verbose_name = "daily performance"
        verbose_name_plural = "daily performance"

    def __str__(self) -> str:
        return f"{self.day} equity={self.equity}"


class ReplayRun(models.Model):
    """One replay (backtest): what was asked, with which code and data, and what came out.

    The run's ledger (orders, fills, positions, tax lots) lives in its own database file
    (``store_path``, see ``strategies.replay_store``); this row keeps what the console and the CLI
    report: metrics, the equity and benchmark curves, the trades, per-strategy attribution and TCA.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        COMPLETED = "completed", "completed"
        FAILED = "failed", "failed"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    start = models.DateField()
    end = models.DateField()
    parameters = models.JSONField(default=dict, blank=True, help_text="strategies, symbols, capital, method")
    code_version = models.CharField(max_length=64, blank=True)
    data_fingerprint = models.CharField(max_length=64, blank=True)
    started_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    store_path = models.CharField(max_length=500, blank=True)
    final_equity = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    final_cash = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    realized_pnl = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    orders = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    equity_curve = models.JSONField(default=list, blank=True)
    benchmark_curve = models.JSONField(default=list, blank=True)
    trades = models.JSONField(default=list, blank=True)
    attribution = models.JSONField(default=dict, blank=True)
    tca = models.JSONField(default=dict, blank=True)
    consistency = models.JSONField(default=dict, blank=True, help_text="ledger vs the replay's mirror at the end")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "replay run"

    def __str__(self) -> str:
        return f"replay {self.pk} {self.start}..{self.end} {self.status}"
