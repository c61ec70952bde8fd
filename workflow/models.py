"""The daily workflow's records: rebalance runs and their steps, daily performance, stored replays.

The tables keep the names they had in the strategies app (ADR 0029: moved in state only).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


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
        db_table = "strategies_rebalancerun"  # kept from the strategies app (no data moved)
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
        db_table = "strategies_rebalancestep"  # kept from the strategies app (no data moved)
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
        db_table = "strategies_dailyperformance"  # kept from the strategies app (no data moved)
        ordering = ["-day"]
        verbose_name = "daily performance"
        verbose_name_plural = "daily performance"

    def __str__(self) -> str:
        return f"{self.day} equity={self.equity}"



class ReplayRun(models.Model):
    """One replay (backtest): what was asked, with which code and data, and what came out.

    The run's ledger (orders, fills, positions, tax lots) lives in its own database file
    (``store_path``, see ``workflow.replay_store``); this row keeps what the console and the CLI
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
        db_table = "strategies_replayrun"  # kept from the strategies app (no data moved)
        ordering = ["-created_at", "-id"]
        verbose_name = "replay run"

    def __str__(self) -> str:
        return f"replay {self.pk} {self.start}..{self.end} {self.status}"
