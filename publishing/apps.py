from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class PublishingConfig(AppConfig):
    name = "publishing"
    verbose_name = pgettext_lazy("application", "Publishing")

    def ready(self) -> None:
        from accounts import signals as account_signals

        from . import notification_tasks, notifications, pipeline_tasks, tasks  # noqa: F401  (registers the tasks enqueued by name)

        account_signals.account_status_changed.connect(
            notifications.on_account_status_changed, dispatch_uid="publishing.notify_account_problem"
        )
        account_signals.proxy_went_down.connect(notifications.on_proxy_went_down, dispatch_uid="publishing.notify_proxy_down")

        from posts import signals as post_signals

        post_signals.approval_withdrawn.connect(
            notifications.on_approval_withdrawn, dispatch_uid="publishing.notify_approval_withdrawn"
        )

        from .adapters import configure_adapters

        configure_adapters()
