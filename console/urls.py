from django.urls import path

from console import replay_views, views

app_name = "console"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("partials/figures/", views.figures_partial, name="figures"),
    path("orders/", views.orders, name="orders"),
    path("orders/new/", views.order_new, name="order_new"),
    path("orders/confirm/", views.order_confirm, name="order_confirm"),
    path("orders/cancel-all/", views.orders_cancel_all_view, name="orders_cancel_all"),
    path("orders/cancel/", views.order_cancel_view, name="order_cancel"),
    path("strategies/", views.strategies, name="strategies"),
    path("strategies/<int:strategy_id>/toggle/", views.strategy_toggle, name="strategy_toggle"),
    path("strategies/<int:strategy_id>/symbols/toggle/", views.strategy_symbol_toggle,
         name="strategy_symbol_toggle"),
    path("runs/", views.runs, name="runs"),
    path("risk/", views.risk, name="risk"),
    path("risk/kill-switch/engage/", views.kill_switch_engage_view, name="kill_switch_engage"),
    path("risk/kill-switch/reset/", views.kill_switch_reset_view, name="kill_switch_reset"),
    path("risk/breakers/<str:name>/reset/", views.breaker_reset_view, name="breaker_reset"),
    path("audit/", views.audit, name="audit"),
    path("audit/export.csv", views.audit_csv, name="audit_csv"),
    path("compliance/", views.compliance, name="compliance"),
    path("compliance/download/", views.compliance_download, name="compliance_download"),
    path("compliance/stored/<int:export_id>/", views.compliance_stored, name="compliance_stored"),
    # --- replays (issue 18) ---
    path("replays/", replay_views.replays, name="replays"),
    path("replays/start/", replay_views.replay_start, name="replay_start"),
    path("replays/compare/", replay_views.replay_compare, name="replay_compare"),
    path("replays/<int:run_id>/", replay_views.replay_report, name="replay_report"),
    path("replays/<int:run_id>/progress/", replay_views.replay_progress, name="replay_progress"),
    path("replays/<int:run_id>/json/", replay_views.replay_json, name="replay_json"),
    # --- issue 21: the order page, live fragments, the order ticket's quote ---
    path("orders/<int:order_id>/", views.order_detail, name="order_detail"),
    path("partials/orders/", views.orders_partial, name="orders_partial"),
    path("partials/orders/<int:order_id>/", views.order_detail_partial, name="order_detail_partial"),
]
