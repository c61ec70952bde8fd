"""Reads of strategies and their signals for the API, the console and the workflow (plain dicts)."""

from __future__ import annotations

from django.db.models import F

from strategies.models import Signal, Strategy, StrategySymbol


def _strategy_rows(qs) -> list[dict]:
    rows = list(qs.order_by("name").values("id", "name", "kind", "parameters", "enabled", "capital_cap", "updated_at"))
    symbols: dict[int, list[dict]] = {r["id"]: [] for r in rows}
    for strategy_id, symbol, on in (
        StrategySymbol.objects.filter(strategy_id__in=list(symbols))
        .order_by("asset__symbol")
        .values_list("strategy_id", "asset__symbol", "enabled")
    ):
        symbols[strategy_id].append({"symbol": symbol, "enabled": on})
    for row in rows:
        row["symbols"] = symbols[row["id"]]
    return rows


def strategy_list(*, enabled: bool | None = None) -> list[dict]:
    """Strategies with their per-symbol toggles, as plain dicts (two queries)."""

    qs = Strategy.objects.all()
    return _strategy_rows(qs if enabled is None else qs.filter(enabled=enabled))


def strategy_get(*, strategy_id: int) -> dict | None:
    rows = _strategy_rows(Strategy.objects.filter(pk=strategy_id))
    return rows[0] if rows else None


def signal_latest_run_id(*, strategy: str | None = None) -> str | None:
    qs = Signal.objects.all()
    if strategy:
        qs = qs.filter(strategy__name=strategy)
    return qs.order_by("-created_at", "-id").values_list("run_id", flat=True).first()


def signals_for_run(*, run_id: str, strategy: str | None = None) -> list[dict]:
    qs = Signal.objects.filter(run_id=run_id)
    if strategy:
        qs = qs.filter(strategy__name=strategy)
    return list(
        qs.order_by("strategy__name", "asset__symbol").values(
            "run_id",
            "session",
            "score",
            "target_weight",
            "created_at",
            strategy_name=F("strategy__name"),
            symbol=F("asset__symbol"),
        )
    )
