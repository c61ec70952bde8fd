"""Strategies API: roles, audited writes, and bad input → 4xx with nothing changed."""

from __future__ import annotations

import datetime as dt

import pytest

from strategies.models import Signal, Strategy, StrategySymbol
from strategies.services import signals_record, strategy_create
from trading_site.models import ActionLog

SYMBOLS = ["AAPL", "IBM", "MSFT", "GOOG"]


@pytest.fixture
def sma(small_market):
    return strategy_create(
        actor=None, name="sma", kind="sma_crossover", parameters={"fast": 10, "slow": 40}, symbols=SYMBOLS
    )


@pytest.fixture
def mom(small_market):
    return strategy_create(
        actor=None, name="mom", kind="momentum", parameters={"lookback": 60, "skip": 5}, symbols=SYMBOLS
    )


def snapshot():
    return (
        list(Strategy.objects.values_list("name", "enabled", "parameters", "capital_cap").order_by("name")),
        list(StrategySymbol.objects.values_list("strategy__name", "asset__symbol", "enabled").order_by("pk")),
        ActionLog.objects.filter(action__startswith="strategy.").exclude(action="strategy.create").count(),
    )


def test_list_strategies_for_a_viewer(api_as, viewer, sma, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = api_as(viewer).get("/api/v1/strategies/")

    assert response.status_code == 200
    [row] = response.json()
    assert (row["name"], row["kind"], row["enabled"], row["capital_cap"]) == ("sma", "sma_crossover", True, "0.4000")
    assert row["parameters"] == {"fast": 10, "slow": 40}
    assert [s["symbol"] for s in row["symbols"]] == sorted(SYMBOLS)


def test_operator_toggles_a_strategy_audited_with_actor_and_reason(api_as, operator, sma):
    response = api_as(operator).patch(
        f"/api/v1/strategies/{sma.pk}/", {"enabled": False, "reason": "too correlated"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["enabled"] is False
    entry = ActionLog.objects.get(action="strategy.toggle")
    assert (entry.actor, entry.reason) == (operator, "too correlated")


def test_operator_changes_parameters(api_as, operator, sma):
    response = api_as(operator).patch(
        f"/api/v1/strategies/{sma.pk}/", {"parameters": {"fast": 5, "slow": 30}, "reason": "faster"}, format="json"
    )

    assert response.status_code == 200
    assert Strategy.objects.get(pk=sma.pk).parameters == {"fast": 5, "slow": 30}


def test_viewer_cannot_change_a_strategy(api_as, viewer, sma):
    before = snapshot()

    response = api_as(viewer).patch(f"/api/v1/strategies/{sma.pk}/", {"enabled": False}, format="json")

    assert response.status_code == 403
    assert snapshot() == before


def test_anonymous_is_refused(api_client, sma):
    assert api_client.get("/api/v1/strategies/").status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/api/v1/strategies/{id}/", {"parameters": {"fast": "ten"}}, 400, "parameters"),
        ("/api/v1/strategies/{id}/", {"parameters": {"fast": 45, "slow": 40}}, 400, "parameters"),
        ("/api/v1/strategies/{id}/", {"parameters": {"fast": 1}}, 400, "parameters"),
        ("/api/v1/strategies/{id}/", {"parameters": "fast=10"}, 400, "parameters"),
        ("/api/v1/strategies/{id}/", {"enabled": "sometimes"}, 400, "enabled"),
        ("/api/v1/strategies/{id}/", {"capital_cap": "1.5"}, 400, "capital_cap"),
        ("/api/v1/strategies/{id}/", {"enabled": False, "colour": "red"}, 400, "colour"),
        ("/api/v1/strategies/{id}/", {}, 400, None),
        ("/api/v1/strategies/999999/", {"enabled": False}, 404, None),
        ("/api/v1/strategies/{id}/symbols/TSLA/", {"enabled": False}, 404, None),
        ("/api/v1/strategies/999999/symbols/AAPL/", {"enabled": False}, 404, None),
        ("/api/v1/strategies/{id}/symbols/AAPL/", {"enabled": "off"}, 400, "enabled"),
        ("/api/v1/strategies/{id}/symbols/AAPL/", {}, 400, "enabled"),
    ],
)
def test_bad_input_is_4xx_and_changes_nothing(api_as, operator, sma, path, body, status, field):
    before = snapshot()

    response = api_as(operator).patch(path.format(id=sma.pk), body, format="json")

    assert response.status_code == status, response.json()
    assert response.json()["code"] in {"validation_error", "not_found"}
    if field:
        assert field in response.json()["fields"]
    assert snapshot() == before


def test_symbol_toggle(api_as, operator, sma):
    response = api_as(operator).patch(
        f"/api/v1/strategies/{sma.pk}/symbols/msft/", {"enabled": False, "reason": "news"}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"strategy": "sma", "symbol": "MSFT", "enabled": False}
    assert ActionLog.objects.get(action="strategy.symbol_toggle").actor == operator


def test_signals_of_the_latest_run(api_as, viewer, sma, mom):
    signals_record(as_of=dt.date(2010, 6, 30), run_id="old")
    signals_record(as_of=dt.date(2010, 7, 30), run_id="new")

    response = api_as(viewer).get("/api/v1/signals/", {"strategy": "mom"})

    body = response.json()
    assert response.status_code == 200
    assert body["run_id"] == "new"
    assert {(r["strategy"], r["session"]) for r in body["results"]} == {("mom", "2010-07-30")}
    assert len(body["results"]) == 4
    assert Signal.objects.filter(run_id="old").count() == 8
    assert api_as(viewer).get("/api/v1/signals/", {"run_id": "old"}).json()["results"][0]["run_id"] == "old"


def test_allocation_preview(api_as, viewer, sma, mom):
    response = api_as(viewer).post(
        "/api/v1/allocations/preview/", {"method": "equal_weight", "as_of": "2010-06-30", "gross": "0.8"}, format="json"
    )

    body = response.json()
    assert response.status_code == 200, body
    assert (body["method"], body["as_of"], body["session"], body["gross"]) == (
        "equal_weight",
        "2010-06-30",
        "2010-06-30",
        0.8,
    )
    assert set(body["weights"][0]) == {"symbol", "final_weight", "contributing_strategies"}
    assert set(body["by_strategy"][0]) == {"strategy", "strategy_weight"}
    assert set(body["correlation"]) == {"threshold", "pairs", "breaches", "alert"}
    # two strategies under a 40% cap: infeasible, each keeps 40% of 0.8
    assert body["cap_feasible"] is False
    assert [round(r["strategy_weight"], 9) for r in body["by_strategy"]] == [0.32, 0.32]


@pytest.mark.parametrize(
    "body",
    [
        {"method": "kelly"},
        {},
        {"method": "equal_weight", "as_of": "30/06/2010"},
        {"method": "equal_weight", "gross": -1},
    ],
)
def test_allocation_preview_bad_input(api_as, viewer, sma, body):
    response = api_as(viewer).post("/api/v1/allocations/preview/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_bars_of_a_symbol(api_as, viewer, ohlcv_data):
    response = api_as(viewer).get("/api/v1/bars/aapl/", {"start": "2000-06-20", "end": "2000-06-21"})

    assert response.status_code == 200
    assert response.json()["bars"] == [
        {
            "session": "2000-06-20",
            "open": "98.500000",
            "high": "103.940000",
            "low": "98.370000",
            "close": "101.250000",
            "volume": "4476700.000000000",
        },
        {
            "session": "2000-06-21",
            "open": "50.500000",
            "high": "56.940000",
            "low": "50.310000",
            "close": "55.630000",
            "volume": "4375000.000000000",
        },
    ]
    assert api_as(viewer).get("/api/v1/bars/NOPE/").status_code == 404
    assert api_as(viewer).get("/api/v1/bars/AAPL/", {"limit": 0}).status_code == 400
    assert api_as(viewer).get("/api/v1/bars/AAPL/", {"start": "2001-01-02", "end": "2000-01-01"}).status_code == 400
    assert len(api_as(viewer).get("/api/v1/bars/AAPL/").json()["bars"]) == 250
