"""The Telegram webhook: Telegram POSTs each update here with the secret given to setWebhook."""

import json
import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Delivery, Source, SourceKind
from .services import webhook_receive, webhook_secret_matches

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


@csrf_exempt
@require_POST
def telegram_webhook(request: HttpRequest, source_id: int) -> JsonResponse:
    """403 unless the header carries the source's secret (compared in constant time); 400 for a body
    that is not an update; 200 once the update is stored (Telegram retries anything else)."""
    source = Source.objects.select_related("workspace").filter(pk=source_id, kind=SourceKind.TELEGRAM).first()
    if (
        source is None
        or source.delivery != Delivery.WEBHOOK
        or not webhook_secret_matches(source, request.headers.get(SECRET_HEADER))
    ):
        return JsonResponse({"detail": "Forbidden."}, status=403)
    try:
        payload = json.loads(request.body)
    except (ValueError, RequestDataTooBig):
        return JsonResponse({"detail": "The body is not a JSON Telegram update."}, status=400)
    if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
        return JsonResponse({"detail": "The body is not a JSON Telegram update."}, status=400)
    if source.enabled:
        webhook_receive(source=source, payload=payload)
    return JsonResponse({"ok": True})
