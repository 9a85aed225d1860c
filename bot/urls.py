from django.urls import path

from . import views

app_name = "bot"

urlpatterns = [
    path("", views.telegram, name="telegram"),
    path("code/", views.telegram_code, name="telegram-code"),
    path("unlink/", views.telegram_unlink, name="telegram-unlink"),
]
