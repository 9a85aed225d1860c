from django.urls import path

from .views import telegram_webhook

urlpatterns = [
    path("hooks/telegram/<int:source_id>/", telegram_webhook, name="source-telegram-webhook"),
]
