from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    """The daily workflow (rebalance chain, schedules), performance and replays."""

    name = "workflow"
    verbose_name = "Workflow"
    default_auto_field = "django.db.models.BigAutoField"
