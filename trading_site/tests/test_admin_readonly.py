"""Ledgers, logs and risk/strategy state are read-only in the Django admin, in every app.

Changes to them go through their services (reason, audit, cache invalidation); an admin edit would
bypass all three. All of these admins use the shared ``trading_site.lib.admin.ReadOnlyAdmin``.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from trading_site.lib.admin import ReadOnlyAdmin

MUST_BE_READ_ONLY = {
    "orders.order", "orders.fill", "trading_site.actionlog",
    "risk.killswitchevent", "risk.riskevent", "risk.circuitbreaker", "risk.rolloutphase",
    "strategies.strategy", "strategies.signal", "workflow.rebalancerun",
    "tax.taxlot", "tax.realizedgain", "tax.washsale", "tax.taxtrade",
}


def read_only_admins() -> dict[str, admin.ModelAdmin]:
    return {m._meta.label_lower: a for m, a in admin.site._registry.items() if isinstance(a, ReadOnlyAdmin)}


def test_every_ledger_admin_is_read_only():
    assert set(read_only_admins()) >= MUST_BE_READ_ONLY


@pytest.mark.parametrize("label", sorted(MUST_BE_READ_ONLY))
def test_superuser_can_list_but_not_add(label, admin_user):
    app, model = label.split(".")
    client = Client()
    client.force_login(admin_user)
    assert client.get(reverse(f"admin:{app}_{model}_changelist")).status_code == 200
    assert client.get(reverse(f"admin:{app}_{model}_add")).status_code == 403
    model_admin = read_only_admins()[label]
    request = client.get(reverse(f"admin:{app}_{model}_changelist")).wsgi_request
    assert not model_admin.has_delete_permission(request)
    if model_admin.has_change_permission(request):
        # Read-mostly (the order admin keeps change permission for its audited cancel action):
        # then no field may be editable.
        model_cls = model_admin.model
        editable = {f.name for f in model_cls._meta.fields} - set(model_admin.get_readonly_fields(request))
        assert editable == set(), editable
