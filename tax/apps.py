from django.apps import AppConfig


class TaxConfig(AppConfig):
    name = "tax"
    verbose_name = "Tax lots and compliance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from celery.schedules import crontab

        from orders.events import register_fill_listener
        from orders.pretrade import register_check
        from tax import conf
        from tax.pretrade import wash_sale_check
        from tax.services import lots_apply_fill
        from trading_site import beat
        from trading_site.lib import queues

        # Every fill feeds the lots, inside the fill's transaction.
        register_fill_listener("tax_lots", lots_apply_fill)
        # Optional block of wash-sale orders; the check is a no-op unless TAX_WASH_SALE_BLOCK is on.
        register_check("wash_sale", wash_sale_check, order=500)
        # crontab schedules are read in CELERY_TIMEZONE = America/New_York.
        beat.register(
            "tax-daily-blotter",
            {
                "task": "tax.blotter_daily",
                "schedule": crontab(hour=conf.BLOTTER_HOUR, minute=conf.BLOTTER_MINUTE, day_of_week="mon-fri"),
                "options": {"queue": queues.REPORTS, "expires": 6 * 3600},
            },
        )
        beat.register(
            "tax-monthly-compliance",
            {
                "task": "tax.compliance_monthly",
                "schedule": crontab(hour=6, minute=0, day_of_month="1"),
                "options": {"queue": queues.REPORTS, "expires": 12 * 3600},
            },
        )
