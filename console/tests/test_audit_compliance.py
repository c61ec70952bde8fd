"""Audit log viewer (filters, pagination, CSV export, model diffs) and compliance downloads (content
types, non-empty CSVs whose totals match the tax report)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from console.tests.conftest import T0, buy, price_set
from tax.selectors import tax_report
from trading_site.audit import action_record
from trading_site.models import ActionLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def actions(operator, admin_user):
    rows = []
    for i in range(55):
        rows.append(action_record(actor=operator, action="order.manual", object_type="orders.order",
                                  object_id=str(i), reason=f"manual {i}"))
    rows.append(action_record(actor=admin_user, action="kill_switch.reset", object_type="risk.killswitch",
                              object_id="1", reason="all clear"))
    ActionLog.objects.filter(pk=rows[0].pk).update(created_at=T0 - dt.timedelta(days=3))
    return rows


def test_audit_filters_and_paginates(client, viewer, actions):
    client.force_login(viewer)
    html = client.get("/audit/").content.decode()
    assert "56 entries." in html and html.count('class="audit-row"') == 50
    assert client.get("/audit/?page=2").content.decode().count('class="audit-row"') == 6
    html = client.get("/audit/?actor=admin1").content.decode()
    assert "1 entry." in html and "all clear" in html
    assert "55 entries." in client.get("/audit/?action=order.").content.decode()
    assert "1 entry." in client.get("/audit/?object_type=risk.killswitch").content.decode()
    day = (T0 - dt.timedelta(days=3)).date().isoformat()
    html = client.get(f"/audit/?start={day}&end={day}").content.decode()
    assert "1 entry." in html and "manual 0<" in html
    response = client.get("/audit/?start=2026-03-10&end=2026-03-01")
    assert response.status_code == 400 and "must not be after" in response.content.decode()


def test_audit_csv_export_follows_the_filters(client, viewer, actions):
    client.force_login(viewer)
    response = client.get("/audit/export.csv?action=kill_switch.")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-actions-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["created_at", "actor", "action", "object_type", "object_id", "reason", "data", "request_id"]
    assert [r[1:6] for r in rows[1:]] == [["admin1", "kill_switch.reset", "risk.killswitch", "1", "all clear"]]
    everything = list(csv.reader(io.StringIO(b"".join(client.get("/audit/export.csv").streaming_content).decode())))
    assert len(everything) == 57  # header + 56, not limited to a page


def test_model_changes_are_listed_with_their_actor(client, admin_user, market):
    from auditlog.context import set_actor

    from risk.services import limits_update

    with set_actor(admin_user):
        limits_update(actor=admin_user, reason="tighter", changes={"orders_per_minute": 30})
    client.force_login(admin_user)
    html = client.get("/audit/?kind=changes&object_type=risk.risklimits").content.decode()
    assert "risk.risklimits" in html and "admin1" in html and "orders_per_minute: 60 → 30" in html
    rows = list(csv.reader(io.StringIO(b"".join(
        client.get("/audit/export.csv?kind=changes&object_type=risk.risklimits").streaming_content).decode())))
    assert rows[1][1:4] == ["admin1", "update", "risk.risklimits"]


@pytest.fixture
def round_trip(market, frozen, operator):
    """Buy 10 AAPL at 100, sell 10 at 110: a short-term gain of 100.00 on 2026-03-10."""
    buy("AAPL", "10", actor=operator)
    price_set("AAPL", "110")
    buy("AAPL", "10", actor=operator, side="sell")


def _body(response) -> str:
    """The downloads are streamed (server-side cursor, row by row)."""
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(_body(response))))


def test_form_8949_download_matches_the_tax_report(client, viewer, round_trip):
    client.force_login(viewer)
    response = client.get("/compliance/download/?kind=form8949&year=2026")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="form8949-2026.csv"'
    rows = _csv(response)
    totals = tax_report(year=2026)["totals"]
    assert totals["short_term_gain"] == "100.00"
    part1_total = next(r for r in rows if r[0] == "I" and r[2] == "Totals")
    assert part1_total[5:] == ["1100.00", "1000.00", "", "0.00", totals["short_term_gain"]]
    assert ["I", "A", "10 sh AAPL", "03/10/2026", "03/10/2026", "1100.00", "1000.00", "", "", "100.00"] in rows


def test_blotter_and_compliance_downloads(client, viewer, round_trip):
    client.force_login(viewer)
    blotter = client.get("/compliance/download/?kind=blotter&day=2026-03-10")
    assert blotter["Content-Type"] == "text/csv; charset=utf-8"
    trades = [r for r in _csv(blotter)[1:] if r[0] == "2026-03-10"]
    assert [(r[5], r[6], r[7], r[8]) for r in trades] == [("AAPL", "buy", "10", "100"), ("AAPL", "sell", "10", "110")]
    assert trades[1][13] == "100.00"  # realized gain of the sale
    report = client.get("/compliance/download/?kind=compliance&month=2026-03")
    assert report["Content-Type"] == "text/csv; charset=utf-8"
    assert ["realized", "short_term_gain", "100.00", ""] in _csv(report)
    as_json = client.get("/compliance/download/?kind=compliance_json&month=2026-03")
    assert as_json["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(_body(as_json))["realized"]["short_term_gain"] == "100.00"
    realized = _csv(client.get("/compliance/download/?kind=realized&year=2026"))
    assert len(realized) == 2 and realized[1][-2:] == ["100.00", "short"]


@pytest.mark.parametrize("query", ["kind=blotter", "kind=form8949&year=abc", "kind=compliance&month=2026-13",
                                   "kind=tax_secrets&year=2026"])
def test_bad_download_requests_are_refused(client, viewer, market, query):
    client.force_login(viewer)
    response = client.get(f"/compliance/download/?{query}")
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")


def test_stored_reports_are_listed_and_downloaded(client, viewer, market):
    from tax.models import TaxExport

    stored = TaxExport.objects.create(kind="compliance", period="2026-02", content='{"month": "2026-02"}',
                                      content_type="application/json", created_at=T0)
    client.force_login(viewer)
    html = client.get("/compliance/").content.decode()
    assert f'<td>compliance</td><td>2026-02</td><td class="small">2026-03-10 15:00</td><td><a href="/compliance/stored/{stored.pk}/">download</a>' in html
    response = client.get(f"/compliance/stored/{stored.pk}/")
    assert (response.status_code, response["Content-Type"]) == (200, "application/json; charset=utf-8")
    assert response["Content-Disposition"] == 'attachment; filename="compliance-2026-02.json"'
    assert response.content.decode() == '{"month": "2026-02"}'
    assert client.get(f"/compliance/stored/{stored.pk + 1}/").status_code == 404


def test_audit_csv_data_is_json_and_objects_link_to_their_page(client, viewer, operator):
    import json

    action_record(actor=operator, action="order.manual", object_type="orders.order", object_id="10",
                  reason="test", data={"limit_price": None, "qty": "5", "note": "é"})
    client.force_login(viewer)
    rows = list(csv.reader(io.StringIO(b"".join(client.get("/audit/export.csv").streaming_content).decode())))
    assert json.loads(rows[1][6]) == {"limit_price": None, "qty": "5", "note": "é"}
    assert rows[1][6] == '{"limit_price": null, "note": "é", "qty": "5"}'
    html = client.get("/audit/").content.decode()
    assert '<a href="/orders/10/" class="object-link">order #10</a>' in html


def test_admin_names_are_plural_english(admin_client):
    from django.apps import apps

    html = admin_client.get("/admin/").content.decode()
    assert ">Strategies<" in html and "Strategys" not in html
    plurals = {m.__name__: str(m._meta.verbose_name_plural) for m in apps.get_models()}
    assert (plurals["KillSwitch"], plurals["DailyPerformance"]) == ("kill switches", "daily performance")
    bad = {name: p for name, p in plurals.items() if p.endswith(("ys", "chs", "shs", "xs", "sss"))}
    assert bad == {}
