"""Loopback Wildberries public card API: /cards/v4/detail and /cards/v2/detail.

Cards come from ``products`` (fixtures keyed by ``nm``); v4 answers
``{"products": [...]}``, v2 ``{"state": 0, "data": {"products": [...]}}``; an
unknown article gives an empty list, as WB does. ``shape = "v2"`` makes the v4
path answer in the old shape. Failures (``fail_next``): ``403`` (anti-bot HTML
page), ``429``, ``404``, ``500``, ``"empty"`` (no products), ``("slow", seconds)``.
"""

from __future__ import annotations

import time

from .base import Emulator, Recorded, Reply

ANTI_BOT_PAGE = "<html><head><title>Проверка браузера</title></head><body>Подождите…</body></html>"

SAMPLE_CARD = {
    "id": 123456,
    "root": 111,
    "name": "Платье миди из льна",
    "brand": "Acme",
    "brandId": 42,
    "supplier": "ООО Пример",
    "colors": [{"name": "белый", "id": 16777215}],
    "compositions": [{"name": "лён 100%"}],
    "options": [{"name": "Уход за вещами", "value": "деликатная стирка 30°"}],
    "sizes": [{"name": "M", "origName": "46", "price": {"basic": 799000, "product": 499000, "logistics": 0, "return": 0}}],
}


class WildberriesEmulator(Emulator):
    def __init__(self, products: dict[int, dict] | None = None) -> None:
        super().__init__()
        self.products = {SAMPLE_CARD["id"]: SAMPLE_CARD} if products is None else products
        self.shape = "v4"

    def handle(self, request: Recorded) -> Reply:
        if request.path not in ("/cards/v4/detail", "/cards/v2/detail"):
            return Reply(404, "404 page not found")
        failure = self.take_failure()
        if isinstance(failure, tuple) and failure[0] == "slow":
            time.sleep(failure[1])
        if failure == 403:
            return Reply(403, ANTI_BOT_PAGE.encode(), {"Content-Type": "text/html; charset=utf-8"})
        if failure in (404, 429, 500):
            return Reply(failure, {"error": "failure"})
        nms = [int(n) for n in (request.param("nm") or "").split(";") if n.strip().isdigit()]
        found = [] if failure == "empty" else [self.products[n] for n in nms if n in self.products]
        if request.path == "/cards/v2/detail" or self.shape == "v2":
            return Reply(200, {"state": 0, "data": {"products": found}})
        return Reply(200, {"products": found})
