"""Operator console pages: function-based views that parse input, call one service or selector, render.

Roles are enforced here on every view (``role_required``): viewers read, operators trade, cancel,
toggle and engage the kill switch, admins reset the kill switch and breakers. Every action is a POST
with a required reason; the services record the audit rows. Forms work without JavaScript; htmx
only refreshes the dashboard's live figures.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from django.contrib import messages
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console import attribution, forms, selectors
from console.services import manual_order_submit
from console.templatetags.console_tags import qty
from orders.brokers.base import BrokerError
from orders.gateway import (
    OrderInputError,
    OrderNotCancelable,
    order_cancel,
    order_cancel_all,
)
from orders.models import Order
from risk.services import breaker_reset, kill_switch_engage, kill_switch_reset
from strategies.conf import ALLOCATION_METHOD
from strategies.services import strategy_symbol_set, strategy_update
from tax import exports
from trading_site.lib import clock
from trading_site.lib.csvsafe import csv_writer
from trading_site.lib.errors import DomainError
from trading_site.lib.roles import ADMIN, OPERATOR, VIEWER, has_role, role_required

# --- dashboard ------------------------------------------------------------------------------------

REFRESH_SECONDS = 3  # live figures poll interval: a few seconds
# Every viewer sees the same dashboard, so its two fragments are rendered once and shared through the
# cache: the live figures for a second (ten consoles polling every 3 s cost one computation per
# second; a fill shows within REFRESH + 1 seconds), the status cards (equity curve, strategies,
# alerts, platform health) for five. Neither fragment depends on the user or holds a form.
FIGURES_CACHE_KEY = "console:figures:v1"
FIGURES_CACHE_SECONDS = 1
STATUS_CACHE_KEY = "console:status:v1"
STATUS_CACHE_SECONDS = 5


# When a shared copy expires, ONE request renders the next one (it takes a short lock in the cache)
# while the others keep getting the copy that just expired: consoles whose copy expires together
# would otherwise all render it at once on two cores (what kept the dashboard's p95 over its budget).
# The older copy is served only while the new one is being rendered (at most REFRESH_LOCK_SECONDS,
# should its renderer die); without an older copy every request renders, as before.
STALE_KEEP_SECONDS = 30
REFRESH_LOCK_SECONDS = 5


def _cached_html(key: str, seconds: int, render) -> str:
    html = cache.get(key)
    if html is not None:
        return mark_safe(html)  # our own template's output, escaped when it was rendered
    lock = f"{key}:refreshing"
    refresher = cache.add(lock, 1, REFRESH_LOCK_SECONDS)
    if not refresher:
        stale = cache.get(f"{key}:stale")
        if stale is not None:
            return mark_safe(stale)
    try:
        html = render()
        cache.set(key, html, seconds)
        cache.set(f"{key}:stale", html, seconds + STALE_KEEP_SECONDS)
    finally:
        if refresher:
            cache.delete(lock)
    return mark_safe(html)


def _shared_fragment(key: str, seconds: int, template: str, context) -> str:
    return _cached_html(key, seconds, lambda: render_to_string(template, context()))


def _figures_html(can_trade: bool) -> str:
    # Operators' copy carries the positions' "Close" links (issue 21): one shared copy per role kind.
    return _shared_fragment(FIGURES_CACHE_KEY + (":trade" if can_trade else ""), FIGURES_CACHE_SECONDS,
                            "console/_figures.html", lambda: {"figures": selectors.figures(), "can_trade": can_trade})


@require_GET
@role_required(VIEWER)
def dashboard(request):
    status = _shared_fragment(STATUS_CACHE_KEY, STATUS_CACHE_SECONDS, "console/_status.html",
                              selectors.dashboard_context)
    return render(request, "console/dashboard.html",
                  {"refresh_seconds": REFRESH_SECONDS, "figures_html": _figures_html(has_role(request.user, OPERATOR)),
                   "status_html": status})


@require_GET
@role_required(VIEWER)
def figures_partial(request):
    """The live figures fragment the dashboard polls (static/js/console.js handles an expired session)."""
    return HttpResponse(_figures_html(has_role(request.user, OPERATOR)))


# --- orders ---------------------------------------------------------------------------------------


# The orders table is shared for two seconds between users with the same filters and role (it holds
# no form token: the rows' Cancel buttons submit the page's own cancel form). The console's own writes
# (manual order, cancel, cancel all, kill switch) start a new version, so their author sees the result
# at once; fills and other apps' changes show within the two seconds.
ORDERS_CACHE_SECONDS = 2
ORDERS_VERSION_KEY = "console:orders:version"


def _orders_version() -> str:
    version = cache.get(ORDERS_VERSION_KEY)
    if version is None:
        cache.add(ORDERS_VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(ORDERS_VERSION_KEY)
    return version


def orders_changed() -> None:
    cache.set(ORDERS_VERSION_KEY, uuid.uuid4().hex, None)


def _orders_table(request, form, can_trade: bool) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    digest = hashlib.sha256("&".join(sorted(request.GET.urlencode().split("&"))).encode()).hexdigest()[:32]
    key = f"console:orders:{_orders_version()}:{int(can_trade)}:{digest}"

    def render() -> str:
        filters = form.cleaned_data if form.is_valid() else {}
        page = selectors.orders_page(
            status=filters.get("status") or None,
            side=filters.get("side") or None,
            source=filters.get("source") or None,
            symbol=(filters.get("symbol") or "").strip() or None,
            start=filters.get("start"),
            end=filters.get("end"),
            page_number=request.GET.get("page", 1),
        )
        return render_to_string("console/_orders_table.html",
                                {"page": page, "query": query.urlencode(), "can_trade": can_trade})

    # the version is in the key: after a console write nobody is served a copy from before it
    return _cached_html(key, ORDERS_CACHE_SECONDS, render)


@require_GET
@role_required(VIEWER)
def orders(request):
    form = forms.OrdersFilterForm(request.GET or None)
    table = _orders_table(request, form, has_role(request.user, OPERATOR))
    return render(request, "console/orders.html", {"form": form, "table_html": table,
                                                   "refresh_seconds": REFRESH_SECONDS,
                                                   "query": request.GET.urlencode()})


def _cancel_back(request, order_id) -> HttpResponse:
    """Back to the order's page when the cancel came from it, else to the orders list."""
    if request.POST.get("back") == "order" and isinstance(order_id, int):
        return redirect("console:order_detail", order_id=order_id)
    return redirect("console:orders")


@require_POST
@role_required(OPERATOR)
def order_cancel_view(request):
    # A row of the orders table carries its own reason box (``reason_<id>``, issue 21): the table is
    # shared between users, so its inputs belong to the page's one cancel form by their form= attribute.
    data = request.POST.copy()
    row_reason = data.get(f"reason_{data.get('order_id', '')}", "")
    if not data.get("reason", "").strip() and row_reason:
        data["reason"] = row_reason
    form = forms.CancelForm(data)
    if not form.is_valid():
        messages.error(request, "Cancel refused: " + "; ".join(e for errs in form.errors.values() for e in errs))
        return _cancel_back(request, form.cleaned_data.get("order_id"))
    order_id = form.cleaned_data["order_id"]
    try:
        result = order_cancel(order=order_id, actor=request.user, reason=form.cleaned_data["reason"])
    except Order.DoesNotExist:
        messages.error(request, f"Order {order_id} does not exist.")
        return redirect("console:orders")
    except (OrderNotCancelable, BrokerError) as exc:
        messages.error(request, f"{exc.code}: {exc.detail}")
    else:
        messages.success(request, f"Cancel requested for {result.client_order_id}: now {result.status}.")
    orders_changed()
    return _cancel_back(request, order_id)


# --- orders: live fragments and the order page (issue 21) ----------------------------------------


@require_GET
@role_required(VIEWER)
def orders_partial(request):
    """The orders table the orders page polls (the same shared, cached fragment as the page's)."""
    form = forms.OrdersFilterForm(request.GET or None)
    return HttpResponse(_orders_table(request, form, has_role(request.user, OPERATOR)))


def _order_context(request, order_id: int) -> dict | None:
    context = selectors.order_page(order_id=order_id)
    if context is not None:
        context["can_trade"] = has_role(request.user, OPERATOR)
        context["refresh_seconds"] = REFRESH_SECONDS
    return context


@require_GET
@role_required(VIEWER)
def order_detail(request, order_id: int):
    context = _order_context(request, order_id)
    if context is None:
        return render(request, "errors/404.html", status=404)
    return render(request, "console/order_detail.html", context)


@require_GET
@role_required(VIEWER)
def order_detail_partial(request, order_id: int):
    context = _order_context(request, order_id)
    if context is None:
        return HttpResponse("This order does not exist.", status=404, content_type="text/plain; charset=utf-8")
    return render(request, "console/_order_live.html", context)


@require_POST
@role_required(OPERATOR)
def orders_cancel_all_view(request):
    form = forms.ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Cancel all refused: a reason is required.")
        return redirect("console:orders")
    count = order_cancel_all(actor=request.user, reason=form.cleaned_data["reason"])
    orders_changed()
    messages.success(request, f"Cancel requested for {count} open order(s).")
    return redirect("console:orders")


def _apply_domain_error(form, exc: DomainError) -> None:
    fields = exc.fields or {}
    placed = False
    for name, errors in fields.items():
        target = {"type": "order_type"}.get(name, name)
        if target in form.fields:
            for error in errors if isinstance(errors, list) else [errors]:
                form.add_error(target, str(error))
            placed = True
    if not placed:
        form.add_error(None, f"{exc.code}: {exc.detail}")


def _preview(form, user):
    d = form.cleaned_data
    return selectors.order_preview(symbol=d["symbol"], side=d["side"], qty=d["qty"], order_type=d["order_type"],
                                   limit_price=d.get("limit_price") or None, time_in_force=d["time_in_force"],
                                   actor=user, slices=d.get("slices"), horizon_minutes=d.get("horizon_minutes"))


@require_http_methods(["GET", "POST"])
@role_required(OPERATOR)
def order_new(request):
    """Step 1: the order form. A valid POST shows the confirmation step; nothing is placed yet."""
    # "Close position" on a dashboard row links here with symbol, side and qty filled in (issue 21):
    # still through the confirmation step and its reason.
    prefill = {k: request.GET[k] for k in ("symbol", "side", "qty") if request.GET.get(k)}
    form = forms.OrderForm(request.POST or None, initial=prefill or None)
    if request.method == "POST" and form.is_valid():
        try:
            preview = _preview(form, request.user)
        except DomainError as exc:
            _apply_domain_error(form, exc)
        else:
            confirm = forms.OrderConfirmForm(initial={
                **{k: v for k, v in form.cleaned_data.items() if v is not None},
                "limit_price": form.cleaned_data.get("limit_price") or "",
                "client_order_id": f"manual-{clock.now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:20]}",
            })
            return render(request, "console/order_confirm.html", {"preview": preview, "form": confirm})
    status = 400 if request.method == "POST" else 200
    return render(request, "console/order_new.html", {"form": form, "assets": selectors.tradable_symbols()},
                  status=status)


@require_POST
@role_required(OPERATOR)
def order_confirm(request):
    """Step 2: with a reason, the order goes through the gateway (source manual) and is audited."""
    form = forms.OrderConfirmForm(request.POST)
    if not form.is_valid():
        preview = None
        if not any(name in form.errors for name in ("symbol", "side", "qty", "order_type", "time_in_force", "slices",
                                                   "horizon_minutes")):
            try:
                preview = _preview(form, request.user)
            except DomainError as exc:
                _apply_domain_error(form, exc)
        return render(request, "console/order_confirm.html", {"preview": preview, "form": form}, status=400)
    d = form.cleaned_data
    try:
        result = manual_order_submit(
            actor=request.user, symbol=d["symbol"], side=d["side"], qty=d["qty"], order_type=d["order_type"],
            limit_price=d.get("limit_price") or None, time_in_force=d["time_in_force"], reason=d["reason"],
            client_order_id=d["client_order_id"], slices=d.get("slices"), horizon_minutes=d.get("horizon_minutes"),
        )
    except OrderInputError as exc:
        _apply_domain_error(form, exc)
        return render(request, "console/order_confirm.html", {"preview": None, "form": form}, status=400)
    except DomainError as exc:  # pre-trade rejection, broker rejection, rate limit, conflict
        try:
            preview = _preview(form, request.user)
        except DomainError:
            preview = None
        refused = Order.objects.filter(client_order_id=d["client_order_id"], created_by=request.user).first()
        orders_changed()
        context = {"preview": preview, "form": form, "rejection": exc, "order": refused}
        return render(request, "console/order_confirm.html", context, status=422)
    orders_changed()
    order = result.order
    messages.success(request, f"Order {order.client_order_id}: {order.side} {qty(order.qty)} {order.symbol} — {order.status}.")
    return redirect(f"{reverse('console:orders')}?symbol={order.symbol}")


# --- strategies -----------------------------------------------------------------------------------


@require_GET
@role_required(VIEWER)
def strategies(request):
    form = forms.AllocationForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    method = data.get("method") or ALLOCATION_METHOD
    allocation = selectors.allocation_for_page(method=method, as_of=data.get("as_of"))
    if not form.is_bound:  # shown without asking: say which session it is for in the form too
        form = forms.AllocationForm(initial={"method": method, "as_of": allocation.get("session")})
    return render(request, "console/strategies.html", {
        "cards": selectors.strategy_cards(), "allocation": allocation, "alloc_form": form,
        "method": method, "query": request.GET.urlencode(), "sharpe_sessions": attribution.SHARPE_SESSIONS,
    })


def _back_to_strategies(request):
    query = request.POST.get("next_query", "")
    return redirect(f"{reverse('console:strategies')}{'?' + query if query else ''}")


@require_POST
@role_required(OPERATOR)
def strategy_toggle(request, strategy_id: int):
    form = forms.ToggleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not changed: " + "; ".join(e for errs in form.errors.values() for e in errs))
        return _back_to_strategies(request)
    try:
        strategy = strategy_update(actor=request.user, strategy_id=strategy_id, enabled=form.cleaned_data["enabled"],
                                   reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, f"{exc.code}: {exc.detail}")
    else:
        messages.success(request, f"Strategy {strategy.name} is now {'enabled' if strategy.enabled else 'disabled'}.")
    return _back_to_strategies(request)


@require_POST
@role_required(OPERATOR)
def strategy_symbol_toggle(request, strategy_id: int):
    form = forms.SymbolToggleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not changed: " + "; ".join(e for errs in form.errors.values() for e in errs))
        return _back_to_strategies(request)
    try:
        symbol = form.cleaned_data["symbol"]
        strategy_symbol_set(actor=request.user, strategy_id=strategy_id, symbol=symbol,
                            enabled=form.cleaned_data["enabled"], reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, f"{exc.code}: {exc.detail}")
    else:
        state = "enabled" if form.cleaned_data["enabled"] else "disabled"
        messages.success(request, f"{symbol} {state} in strategy {strategy_id}.")
    return _back_to_strategies(request)


# --- rebalance runs -------------------------------------------------------------------------------


@require_GET
@role_required(VIEWER)
def runs(request):
    form = forms.RunsFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    page = selectors.runs_page(mode=filters.get("mode") or None, status=filters.get("status") or None,
                               page_number=request.GET.get("page", 1))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "console/runs.html", {"form": form, "page": page, "query": query.urlencode()})


# --- risk -----------------------------------------------------------------------------------------


def _risk_page(request, *, engage_form=None, reset_form=None, status=200):
    context = selectors.risk_context()
    context["engage_form"] = engage_form or forms.KillSwitchEngageForm()
    context["reset_form"] = reset_form or forms.ReasonForm()
    return render(request, "console/risk.html", context, status=status)


@require_GET
@role_required(VIEWER)
def risk(request):
    return _risk_page(request)


@require_POST
@role_required(OPERATOR)
def kill_switch_engage_view(request):
    form = forms.KillSwitchEngageForm(request.POST)
    if not form.is_valid():
        return _risk_page(request, engage_form=form, status=400)
    result = kill_switch_engage(actor=request.user, reason=form.cleaned_data["reason"])
    orders_changed()
    summary = f"Kill switch engaged: {result.cancelled} order(s) cancelled, {result.flatten_orders} flatten order(s)."
    if result.errors:
        messages.error(request, summary + " Unwind errors: " + "; ".join(result.errors))
    else:
        messages.success(request, summary)
    return redirect("console:risk")


@require_POST
@role_required(ADMIN)
def kill_switch_reset_view(request):
    form = forms.ReasonForm(request.POST)
    if not form.is_valid():
        return _risk_page(request, reset_form=form, status=400)
    try:
        kill_switch_reset(actor=request.user, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, f"{exc.code}: {exc.detail}")
    else:
        messages.success(request, "Kill switch reset: new orders are accepted again.")
    return redirect("console:risk")


@require_POST
@role_required(ADMIN)
def breaker_reset_view(request, name: str):
    form = forms.ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Breaker not reset: a reason is required.")
        return redirect("console:risk")
    try:
        breaker_reset(actor=request.user, name=name, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, f"{exc.code}: {exc.detail}")
    else:
        messages.success(request, f"Circuit breaker {name} reset.")
    return redirect("console:risk")


# --- audit ----------------------------------------------------------------------------------------


def _audit_form(request) -> tuple[forms.AuditFilterForm, str, dict]:
    form = forms.AuditFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data.get("kind") or "actions", form.filters()
    return form, "actions", {}


@require_GET
@role_required(VIEWER)
def audit(request):
    form, kind, filters = _audit_form(request)
    invalid = form.is_bound and not form.is_valid()
    page = None if invalid else selectors.audit_page(kind=kind, page_number=request.GET.get("page", 1), **filters)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "console/audit.html", {"form": form, "kind": kind, "page": page,
                                                  "query": query.urlencode(),
                                                  "object_types": selectors.audit_object_types()},
                  status=400 if invalid else 200)


class _Echo:
    def write(self, value):
        return value


@require_GET
@role_required(VIEWER)
def audit_csv(request):
    form, kind, filters = _audit_form(request)
    if form.is_bound and not form.is_valid():
        return HttpResponse("; ".join(e for errs in form.errors.values() for e in errs), status=400,
                            content_type="text/plain; charset=utf-8")
    writer = csv_writer(_Echo(), lineterminator="\n")
    if kind == "changes":
        qs = selectors.changes_query(**filters)
        header = ["timestamp", "actor", "action", "object_type", "object_id", "object", "changes"]

        def rows():
            yield writer.writerow(header)
            for e in qs.iterator(chunk_size=500):
                yield writer.writerow([
                    e.timestamp.isoformat(), e.actor.get_username() if e.actor_id else "system",
                    e.get_action_display(), f"{e.content_type.app_label}.{e.content_type.model}", e.object_pk,
                    e.object_repr, e.changes_str,
                ])
    else:
        qs = selectors.actions_query(**filters)
        header = ["created_at", "actor", "action", "object_type", "object_id", "reason", "data", "request_id"]

        def rows():
            yield writer.writerow(header)
            for a in qs.iterator(chunk_size=500):
                yield writer.writerow([
                    a.created_at.isoformat(), a.actor.get_username() if a.actor_id else "system", a.action,
                    a.object_type, a.object_id, a.reason,
                    json.dumps(a.data, sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False), a.request_id,
                ])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{kind}-{clock.today_ny():%Y%m%d}.csv"'
    return response


# --- compliance -----------------------------------------------------------------------------------


def _compliance_page(request, form, *, status: int = 200):
    today = clock.today_ny()
    defaults = {"day": today, "year": today.year, "month": f"{today:%Y-%m}"}
    stored = selectors.tax_exports_recent()
    return render(request, "console/compliance.html",
                  {"form": form or forms.ComplianceForm(initial=defaults), "defaults": defaults, "stored": stored},
                  status=status)


@require_GET
@role_required(VIEWER)
def compliance(request):
    return _compliance_page(request, None)


@require_GET
@role_required(VIEWER)
def compliance_download(request):
    form = forms.ComplianceForm(request.GET)
    if not form.is_valid():
        return _compliance_page(request, form, status=400)
    d = form.cleaned_data
    kind = d["kind"]
    # Streamed row by row from a server-side cursor: a year of Form 8949 rows never sits in memory.
    if kind == "blotter":
        body, name, ctype = [exports.blotter_csv(day=d["day"])], f"blotter-{d['day']}.csv", "text/csv"
    elif kind == "form8949":
        body, name, ctype = exports.form8949_lines(year=d["year"]), f"form8949-{d['year']}.csv", "text/csv"
    elif kind == "realized":
        body, name, ctype = exports.realized_lines(year=d["year"]), f"realized-{d['year']}.csv", "text/csv"
    elif kind == "compliance":
        body, name, ctype = (exports.compliance_report_lines(month=d["month"]), f"compliance-{d['month']}.csv",
                             "text/csv")
    else:
        body, name, ctype = (exports.compliance_json_lines(month=d["month"]), f"compliance-{d['month']}.json",
                             "application/json")
    response = StreamingHttpResponse(body, content_type=f"{ctype}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@role_required(VIEWER)
def compliance_stored(request, export_id: int):
    export = selectors.tax_export_get(export_id=export_id)
    if export is None:
        return render(request, "errors/404.html", status=404)
    ext = "json" if "json" in export.content_type else "csv"
    response = HttpResponse(export.content, content_type=f"{export.content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.kind}-{export.period}.{ext}"'
    return response
