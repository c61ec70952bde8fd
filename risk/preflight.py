"""The live-trading readiness checklist (docs/RUNBOOKS/live-rollout-checklist.md), item by item.

Each item is ``pass``, ``fail`` or ``manual`` with an explanation. Automatic items really check the
running configuration and database; ``manual`` items need a person's sign-off (they are listed so
the checklist stays complete). ``manage.py preflight`` exits non-zero when an automatic item fails.
Sections and items follow the reference's "Live Trading Readiness Checklist".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings

from orders.conf import conf as orders_conf
from orders.models import AccountSnapshot, Fill
from risk import conf, orders_port
from risk.models import CircuitBreaker, KillSwitch, RiskLimits
from risk.selectors import kill_switch_engaged, last_kill_switch_test
from risk.state import limits_row
from trading_site.beat import BEAT_SCHEDULE
from trading_site.health import check_trading_broker, health_report
from trading_site.lib import clock
from trading_site.lib.roles import VIEWER
from trading_site.models import Alert
from trading_site.secret_store import secret_last_rotated

PASS, FAIL, MANUAL = "pass", "fail", "manual"
RUNBOOKS = ("kill-switch.md", "live-rollout-checklist.md", "graduated-rollout-schedule.md",
            "disaster-recovery-playbook.md", "common-scenarios.md")


@dataclass(frozen=True, slots=True)
class Item:
    section: str
    key: str
    title: str
    status: str
    detail: str


def _days(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 86400:.1f} days"


# --- Security ------------------------------------------------------------------------------------


def secrets_backend(now: dt.datetime) -> tuple[str, str]:
    backend = settings.SECRETS_BACKEND
    if backend in ("vault", "aws"):
        return PASS, f"secrets come from {backend}"
    return FAIL, f"SECRETS_BACKEND={backend}: move the broker keys to Vault or AWS Secrets Manager"


def keys_rotated(now: dt.datetime) -> tuple[str, str]:
    limit = dt.timedelta(days=conf.KEY_MAX_AGE_DAYS)
    notes = []
    worst = PASS
    for name in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY"):
        rotated = secret_last_rotated(name)
        if rotated is None:
            worst = FAIL
            notes.append(f"{name} never rotated with `manage.py secrets rotate`")
        elif now - rotated > limit:
            worst = FAIL
            notes.append(f"{name} rotated {_days(now - rotated)} ago (limit {conf.KEY_MAX_AGE_DAYS})")
        else:
            notes.append(f"{name} rotated {_days(now - rotated)} ago")
    return worst, "; ".join(notes)


def dashboard_credentials(now: dt.datetime) -> tuple[str, str]:
    from django.contrib.auth import get_user_model

    viewers = get_user_model().objects.filter(is_active=True, is_superuser=False, groups__name=VIEWER).count()
    if viewers:
        return PASS, f"{viewers} read-only (viewer) account(s) exist for dashboards"
    return FAIL, "no active viewer account: dashboards would share trading credentials"


def audit_logging(now: dt.datetime) -> tuple[str, str]:
    from auditlog.registry import auditlog

    middleware = "auditlog.middleware.AuditlogMiddleware" in settings.MIDDLEWARE
    registered = auditlog.contains(RiskLimits) and auditlog.contains(KillSwitch)
    if middleware and registered:
        return PASS, "django-auditlog middleware on; configuration models registered; actions recorded"
    return FAIL, "django-auditlog middleware or model registration missing"


# --- Safety --------------------------------------------------------------------------------------


def breakers_ready(now: dt.datetime) -> tuple[str, str]:
    limits = limits_row()
    tripped = list(CircuitBreaker.objects.filter(state=CircuitBreaker.State.OPEN).values_list("name", flat=True))
    if tripped:
        return FAIL, f"breaker(s) tripped now: {', '.join(tripped)}"
    return PASS, (f"daily loss {limits.daily_loss_pct:.2%}, drawdown {limits.max_drawdown_pct:.2%}, broker error "
                  f"burst {conf.BROKER_ERROR_BURST}/{conf.BROKER_ERROR_WINDOW_SECONDS:g}s, stale data; all closed")


def kill_switch_tested(now: dt.datetime) -> tuple[str, str]:
    if kill_switch_engaged():
        return FAIL, "the kill switch is engaged"
    tested = last_kill_switch_test()
    limit = dt.timedelta(days=conf.KILL_SWITCH_TEST_MAX_AGE_DAYS)
    if tested is None:
        return FAIL, "the kill switch has never been engaged and reset"
    if now - tested > limit:
        return FAIL, f"last engage/reset cycle {_days(now - tested)} ago (limit {conf.KILL_SWITCH_TEST_MAX_AGE_DAYS})"
    return PASS, f"last engage/reset cycle {_days(now - tested)} ago"


def position_limits(now: dt.datetime) -> tuple[str, str]:
    row = limits_row()
    if not (row.max_order_notional <= row.max_position_notional <= row.max_gross_exposure):
        return FAIL, "expected max order notional <= max position notional <= max gross exposure"
    return PASS, (f"order {row.max_order_notional:,.2f}, position {row.max_position_notional:,.2f}, "
                  f"gross {row.max_gross_exposure:,.2f}; {row.orders_per_minute} orders/min")


def daily_loss_limit(now: dt.datetime) -> tuple[str, str]:
    row = limits_row()
    if row.daily_loss_pct > 0:
        return PASS, f"daily loss limit {row.daily_loss_pct:.2%} of start-of-day equity"
    return FAIL, "no daily loss limit"


def stale_order_cleanup(now: dt.datetime) -> tuple[str, str]:
    scheduled = any(e.get("task") == "orders.reconcile" for e in BEAT_SCHEDULE.values())
    if scheduled:
        return PASS, f"reconciliation on beat cancels DAY orders open > {orders_conf.stale_order_minutes} min"
    return FAIL, "orders.reconcile (which cancels stale orders) is not on the beat schedule"


def rollout_phase(now: dt.datetime) -> tuple[str, str]:
    row = limits_row()
    live = settings.BROKER == "alpaca" and not settings.ALPACA_PAPER
    if row.rollout_phase is None:
        return (FAIL, "live trading without a rollout phase") if live else (
            PASS, "paper/simulated: no phase needed; set phase 1 before going live")
    return PASS, f"rollout phase {row.rollout_phase} configured"


# --- Testing -------------------------------------------------------------------------------------


def paper_history(now: dt.datetime) -> tuple[str, str]:
    first = Fill.objects.order_by("executed_at").values_list("executed_at", flat=True).first()
    if first is None:
        return FAIL, "no fills recorded: run paper trading for at least two weeks"
    age = now - first
    if age < dt.timedelta(days=14):
        return FAIL, f"first fill {_days(age)} ago; two weeks of paper trading needed"
    return PASS, f"fills since {first:%Y-%m-%d} ({_days(age)})"


def reconciliation_clean(now: dt.datetime) -> tuple[str, str]:
    latest = AccountSnapshot.objects.order_by("-time").values_list("time", flat=True).first()
    if latest is None or now - latest > dt.timedelta(days=1):
        return FAIL, "no reconciliation in the last 24 hours (no account snapshot)"
    open_ = Alert.objects.filter(source="reconciliation", acknowledged_at__isnull=True,
                                 created_at__gte=now - dt.timedelta(days=1)).count()
    if open_:
        return FAIL, f"{open_} unacknowledged reconciliation discrepancy alert(s) in the last 24 hours"
    return PASS, f"last reconciliation {latest:%Y-%m-%d %H:%M} UTC, no open discrepancies"


# --- Monitoring ----------------------------------------------------------------------------------


def metrics_exported(now: dt.datetime) -> tuple[str, str]:
    from django.urls import Resolver404, resolve

    try:
        resolve("/metrics")
    except Resolver404:
        return FAIL, "no /metrics endpoint is mounted"
    return PASS, "/metrics is mounted"


def alerts_configured(now: dt.datetime) -> tuple[str, str]:
    if settings.REDIS_URL:
        return PASS, "alerts are stored and published on the Redis 'alerts' channel"
    return FAIL, "no REDIS_URL: alerts are stored but not published"


def structured_logs(now: dt.datetime) -> tuple[str, str]:
    if settings.LOG_FORMAT == "json":
        return PASS, "JSON logs ready for aggregation"
    return FAIL, "LOG_FORMAT=text: set LOG_FORMAT=json for log aggregation"


# --- Brokerage -----------------------------------------------------------------------------------


def broker_account(now: dt.datetime) -> tuple[str, str]:
    health = check_trading_broker()
    if not health.get("ok"):
        return FAIL, f"broker health check failed: {health}"
    account = orders_port.account(fresh=True)
    if account is None:
        return FAIL, "no account snapshot: run reconciliation"
    if account.status and account.status.upper() not in ("ACTIVE", ""):
        return FAIL, f"account status {account.status}"
    return PASS, f"broker {settings.BROKER} healthy; equity {account.equity:,.2f}, buying power {account.buying_power:,.2f}"


def market_hours_policy(now: dt.datetime) -> tuple[str, str]:
    ext = "enabled for limit DAY orders" if limits_row().allow_extended_hours else "disabled"
    return PASS, f"regular NYSE hours (XNYS calendar, early closes); extended hours {ext}"


def pdt_monitoring(now: dt.datetime) -> tuple[str, str]:
    row = limits_row()
    if row.pdt_rule_enabled:
        return PASS, "legacy PDT counter on; warns before the 4th day trade in 5 sessions"
    return PASS, ("legacy PDT counter off (FINRA replaced the rule in 2026; Alpaca stopped flagging); "
                  "the intraday buying-power check guards opening orders")


# --- Operations ----------------------------------------------------------------------------------


def runbooks(now: dt.datetime) -> tuple[str, str]:
    folder = Path(settings.BASE_DIR) / "docs" / "RUNBOOKS"
    missing = [name for name in RUNBOOKS if not (folder / name).is_file()]
    if missing:
        return FAIL, f"missing runbooks: {', '.join(missing)}"
    return PASS, f"{len(RUNBOOKS)} runbooks present"


def backups(now: dt.datetime) -> tuple[str, str]:
    if not conf.BACKUP_DIR:
        return FAIL, "BACKUP_DIR is not set"
    folder = Path(conf.BACKUP_DIR)
    if not folder.is_dir():
        return FAIL, f"BACKUP_DIR {folder} does not exist"
    files = [p for p in folder.iterdir() if p.is_file()]
    if not files:
        return FAIL, f"no backup files in {folder}"
    newest = max(p.stat().st_mtime for p in files)
    age = now - dt.datetime.fromtimestamp(newest, tz=dt.UTC)
    if age > dt.timedelta(hours=conf.BACKUP_MAX_AGE_HOURS):
        return FAIL, f"newest backup is {age.total_seconds() / 3600:.1f} h old (limit {conf.BACKUP_MAX_AGE_HOURS} h)"
    return PASS, f"newest backup {age.total_seconds() / 3600:.1f} h old in {folder}"


def platform_health(now: dt.datetime) -> tuple[str, str]:
    ok, report = health_report()
    bad = [name for name, check in report["checks"].items() if not check.get("ok")]
    return (PASS, "database, Celery broker, worker, beat and broker healthy") if ok else (
        FAIL, f"unhealthy: {', '.join(bad)}")


Check = Callable[[dt.datetime], tuple[str, str]]
MANUAL_ITEM = None

CHECKLIST: tuple[tuple[str, str, str, Check | None, str], ...] = (
    ("Security", "secrets_backend", "Secrets migrated from .env to Vault/AWS", secrets_backend, ""),
    ("Security", "keys_rotated", "API keys rotated within the last 90 days", keys_rotated, ""),
    ("Security", "dashboard_credentials", "Read-only dashboard credentials separated", dashboard_credentials, ""),
    ("Security", "audit_logging", "Audit logging enabled for all manual actions", audit_logging, ""),
    ("Security", "broker_2fa", "2FA enabled on the brokerage account", MANUAL_ITEM,
     "set in the broker's web dashboard; the platform cannot see it"),
    ("Safety", "breakers", "Circuit breakers configured and closed", breakers_ready, ""),
    ("Safety", "kill_switch_tested", "Kill switch tested and functional", kill_switch_tested, ""),
    ("Safety", "position_limits", "Position limits configured and enforced", position_limits, ""),
    ("Safety", "daily_loss_limit", "Daily loss limits configured", daily_loss_limit, ""),
    ("Safety", "stale_order_cleanup", "Stale order cleanup (>15 min cancellation)", stale_order_cleanup, ""),
    ("Safety", "rollout_phase", "Graduated rollout phase set for live trading", rollout_phase, ""),
    ("Testing", "replay_parity", "Backtest replay parity verified (same signals)", MANUAL_ITEM,
     "run the no-look-ahead/parity tests of strategies and record the result"),
    ("Testing", "paper_history", "Paper trading run for 2+ weeks", paper_history, ""),
    ("Testing", "stress_tests", "Stress tests passed (data drop, broker errors, position desync)", MANUAL_ITEM,
     "run the failure-injection suites and sign off"),
    ("Testing", "reconciliation", "Reconciler tested and clean", reconciliation_clean, ""),
    ("Testing", "integration_tests", "All integration tests passing", MANUAL_ITEM, "CI status of the release"),
    ("Monitoring", "metrics", "Prometheus metrics exporting", metrics_exported, ""),
    ("Monitoring", "dashboards", "Grafana dashboards configured", MANUAL_ITEM, "outside the platform"),
    ("Monitoring", "alerts", "Alerts configured and tested", alerts_configured, ""),
    ("Monitoring", "paging", "PagerDuty/email alerts functional", MANUAL_ITEM, "send a test page and confirm"),
    ("Monitoring", "logs", "Log aggregation operational", structured_logs, ""),
    ("Brokerage", "account", "Account verified (status, buying power, margin, shorting)", broker_account, ""),
    ("Brokerage", "market_hours", "Market hours policy defined", market_hours_policy, ""),
    ("Brokerage", "order_types", "Supported order types documented", MANUAL_ITEM,
     "market and limit, DAY/GTC; extended hours only limit DAY (docs/CONCEPTS/risk-controls.md)"),
    ("Brokerage", "regulatory_limits", "Position limits per regulation verified", MANUAL_ITEM,
     "compare the limits with the account's regulatory constraints"),
    ("Brokerage", "pdt", "PDT / intraday margin monitoring active", pdt_monitoring, ""),
    ("Operations", "runbooks", "Runbooks created for common scenarios", runbooks, ""),
    ("Operations", "disaster_recovery", "Disaster recovery playbook tested", MANUAL_ITEM,
     "restore a backup into a scratch environment and record the date"),
    ("Operations", "backups", "Backups configured and recent", backups, ""),
    ("Operations", "console", "Web console and workers healthy", platform_health, ""),
    ("Operations", "training", "Team completed the operational training checklist", MANUAL_ITEM,
     "kill switch activation, manual order entry, reading logs, disaster recovery"),
)


def preflight_run(*, now: dt.datetime | None = None) -> list[Item]:
    now = now or clock.now()
    items = []
    for section, key, title, check, note in CHECKLIST:
        if check is None:
            items.append(Item(section, key, title, MANUAL, note))
            continue
        try:
            status, detail = check(now)
        except Exception as exc:  # a broken check is a failed check, never a crash of the checklist
            status, detail = FAIL, f"check raised {type(exc).__name__}: {exc}"
        items.append(Item(section, key, title, status, detail))
    return items


def as_dicts(items: list[Item]) -> list[dict]:
    return [asdict(i) for i in items]
