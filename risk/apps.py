from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "risk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from celery.schedules import crontab

        from orders.events import register_fill_listener
        from orders.pretrade import register_check
        from risk import checks, services
        from risk.models import CircuitBreaker, KillSwitch, PositionRisk, RiskLimits, RolloutPhase
        from trading_site import beat
        from trading_site.demo import register_demo_step
        from trading_site.lib import broker_budget, queues

        # Kill switch first; the rate limits last, so an order refused by any check uses no budget.
        register_check("risk.controls", checks.pretrade_controls, order=10)
        register_check("risk.rate_limits", checks.pretrade_rate_limits, order=1000)
        register_fill_listener("risk.trade_fills", services.trade_fill_record)
        # Every broker REST request of every process takes from one budget; 429s feed the breaker.
        broker_budget.register(
            take=lambda kind: services.broker_request_take(kind=kind),
            rate_limited=services.broker_rate_limited_record,
        )

        for model in (RiskLimits, RolloutPhase, PositionRisk, KillSwitch, CircuitBreaker):
            auditlog.register(model)

        # Beat runs in America/New_York (CELERY_TIMEZONE); the tasks also check the market clock.
        beat.register(
            "risk-poll",
            {"task": "risk.poll", "schedule": 60.0, "options": {"queue": queues.RISK, "expires": 55}},
        )
        beat.register(
            "risk-dynamic-exits",
            {
                "task": "risk.dynamic_exits",
                "schedule": crontab(minute="*/5", hour="9-16", day_of_week="mon-fri"),
                "options": {"queue": queues.RISK, "expires": 240},
            },
        )
        register_demo_step("risk limits", services.risk_defaults_ensure)
