"""Seed the rollout phases 1-4 from the reference, the limits row and the kill-switch row."""

from decimal import Decimal

from django.db import migrations

PHASES = (
    (1, "Tiny notional", Decimal("500"), ["SPY", "QQQ"], "Days 1-3: verify end-to-end live execution."),
    (2, "Expanded symbols", Decimal("2000"), ["SPY", "QQQ", "AAPL", "MSFT", "GOOG"], "Days 4-7: multi-symbol coordination."),
    (3, "Full strategy activation", Decimal("10000"), [], "Days 8-14: all strategies on the full universe."),
    (4, "Capital ramp", Decimal("50000"), [], "Days 15-30: ramp to the target capital."),
)


def seed(apps, schema_editor):
    RolloutPhase = apps.get_model("risk", "RolloutPhase")
    RiskLimits = apps.get_model("risk", "RiskLimits")
    KillSwitch = apps.get_model("risk", "KillSwitch")
    CircuitBreaker = apps.get_model("risk", "CircuitBreaker")
    for number, name, cap, symbols, goal in PHASES:
        RolloutPhase.objects.get_or_create(
            number=number, defaults={"name": name, "capital_cap": cap, "symbols": symbols, "goal": goal}
        )
    RiskLimits.objects.get_or_create(pk=1)
    KillSwitch.objects.get_or_create(pk=1)
    for name in ("daily_loss", "drawdown", "broker_errors", "stale_data"):
        CircuitBreaker.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("risk", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
