"""Console pages of stored replays (``/replays/``): the list, a report, two runs compared, and the
operator's start form. Viewers read reports; operators start replays, which run as a Celery task
(``strategies.replay_execute``) and report their progress on the run's row."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from console import charts as chart_specs
from trading_site.lib import clock, queues
from trading_site.lib.roles import OPERATOR, VIEWER, has_role, role_required
from workflow.models import ReplayRun
from workflow.replay import ReplayInputError
from workflow.replays import progress_text, replay_create, report_data, run_json
from workflow.tasks import replay_execute_task


class ReplayStartForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), initial="2011-01-01")
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), initial="2011-12-31")
    strategies = forms.CharField(max_length=400, required=False, initial="sma-crossover",
                                 help_text="comma-separated names; empty = the enabled strategies")
    symbols = forms.CharField(max_length=400, required=False, help_text="comma-separated; empty = the whole universe")
    capital = forms.CharField(max_length=20, initial="100000")
    reason = forms.CharField(max_length=500, error_messages={"required": "A reason is required."})


def _run(run_id: int) -> ReplayRun:
    run = ReplayRun.objects.filter(pk=run_id).first()
    if run is None:
        raise Http404("no such replay")
    return run


def _progress(run: ReplayRun) -> dict:
    elapsed = (clock.now() - run.started_at).total_seconds() if run.started_at else 0.0
    done, total = run.progress_done, run.progress_total
    return {"id": run.pk, "status": run.status, "done": done, "total": total,
            "percent": round(100.0 * done / total, 1) if total else 0.0,
            "text": run.status if run.status in ("queued", "failed") else progress_text(done=done, total=total,
                                                                                         elapsed=elapsed),
            "error": run.error}


@require_GET
@role_required(VIEWER)
def replays(request):
    page = Paginator(ReplayRun.objects.defer("equity_curve", "benchmark_curve", "trades"), 25).get_page(
        request.GET.get("page", 1))
    can_start = has_role(request.user, OPERATOR)
    return render(request, "console/replays/list.html", {
        "page": page, "can_start": can_start, "form": ReplayStartForm() if can_start else None, "query": ""})


@require_POST
@role_required(OPERATOR)
def replay_start(request):
    form = ReplayStartForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            run = replay_create(actor=request.user, start=data["start"], end=data["end"],
                                strategies=data["strategies"], symbols=data["symbols"], capital=data["capital"],
                                reason=data["reason"])
        except ReplayInputError as exc:
            form.add_error(None, str(exc))
        else:
            transaction.on_commit(lambda: replay_execute_task.apply_async(kwargs={"run_id": run.pk},
                                                                          queue=queues.REPORTS))
            messages.success(request, f"Replay {run.pk} queued.")
            return redirect(f"/replays/{run.pk}/")
    page = Paginator(ReplayRun.objects.defer("equity_curve", "benchmark_curve", "trades"), 25).get_page(1)
    return render(request, "console/replays/list.html", {"page": page, "can_start": True, "form": form, "query": ""},
                  status=400)


@require_GET
@role_required(VIEWER)
def replay_report(request, run_id: int):
    run = _run(run_id)
    extra = report_data(run)
    charts = {"equity": run.equity_curve, "benchmark": run.benchmark_curve, "drawdown": extra["drawdown"]}
    attribution = [(name, a["pnl"]) for name, a in (run.attribution or {}).items() if a.get("pnl") is not None]
    return render(request, "console/replays/report.html", {
        "run": run, "progress": _progress(run), "monthly": extra["monthly"], "charts": charts,
        "monthly_chart": chart_specs.monthly_returns(extra["monthly"]),
        "attribution_chart": chart_specs.allocation(attribution, label="P&L", y_label="USD"),
        "finished": run.status == ReplayRun.Status.COMPLETED})


@require_GET
@role_required(VIEWER)
def replay_progress(request, run_id: int):
    return JsonResponse(_progress(_run(run_id)))


@require_GET
@role_required(VIEWER)
def replay_json(request, run_id: int):
    response = JsonResponse(run_json(_run(run_id)))
    response["Content-Disposition"] = f'attachment; filename="replay-{run_id}.json"'
    return response


@require_GET
@role_required(VIEWER)
def replay_compare(request):
    try:
        a, b = _run(int(request.GET.get("a", ""))), _run(int(request.GET.get("b", "")))
    except ValueError:
        return render(request, "console/replays/compare.html", {"error": "Choose two replays to compare."},
                      status=400)
    keys = ["total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "turnover"]
    rows = [(k, a.metrics.get(k), b.metrics.get(k)) for k in keys]
    charts = {"a": a.equity_curve, "b": b.equity_curve, "a_label": f"replay {a.pk}", "b_label": f"replay {b.pk}"}
    return render(request, "console/replays/compare.html", {"a": a, "b": b, "rows": rows, "charts": charts})
