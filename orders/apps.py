from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders & execution"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from orders.conf import conf
        from trading_site import beat, health
        from trading_site.lib import queues

        beat.register(
            "orders-reconcile",
            {
                "task": "orders.reconcile",
                "schedule": float(conf.reconcile_every_seconds),
                "options": {"queue": queues.ORDERS, "expires": conf.reconcile_every_seconds},
            },
        )
        # The database is the schedule: every second the due slices are claimed and sent. A beat
        # message older than two seconds is dropped (the next one covers it) so none pile up.
        beat.register(
            "orders-twap-dispatch",
            {"task": "orders.twap_dispatch", "schedule": 1.0, "options": {"queue": queues.TWAP, "expires": 2}},
        )
        if settings.BROKER == "simulated":
            beat.register(
                "orders-sim-tick",
                {
                    "task": "orders.sim_tick",
                    "schedule": float(conf.sim_tick_every_seconds),
                    "options": {"queue": queues.ORDERS, "expires": conf.sim_tick_every_seconds},
                },
            )
        health.register_check("broker", _broker_health)
        trade_stream_check_register()
        from trading_site.demo import register_demo_step

        register_demo_step("orders: account snapshot", _demo_snapshot)
        from orders import tasks  # noqa: F401  (connects the worker start-up reconciliation)


def trade_stream_check_register() -> bool:
    """``/healthz`` checks the trade-stream heartbeat when this deployment runs one (fills stop
    reaching the ledger without it). Returns whether it registered the check."""
    from orders.brokers import trade_stream_expected
    from trading_site import health

    if not trade_stream_expected():
        return False
    health.register_check("trade_stream", lambda: health.heartbeat_check("trade_stream"))
    return True


def _broker_health() -> dict:
    from orders.brokers import get_broker

    return get_broker().health()


def _demo_snapshot() -> str:
    """Demo step: one account snapshot so the dashboard has figures before the first reconciliation."""
    from orders.reconcile import account_snapshot_record
    from orders.selectors import account_latest

    if account_latest() is not None:
        return "exists"
    snap = account_snapshot_record()
    return f"equity {snap.equity} ({snap.broker})"
