"""What every marketplace provider shares: one plain HTTP GET with a timeout, and
the mapping of its failures onto ``ProductUnavailable``.

404 → permanent (no such product); 403 → refused, 429 → rate limited, 5xx,
timeouts and network errors → temporary (with the marketplace's Retry-After when
it sends one). No retries here: a failure only means no facts for now.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter

from ..facts import Failure, ProductFacts, ProductUnavailable

# Marketplaces filter clients by fingerprint; a browser's user agent is what works.
BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


class Provider:
    marketplace: str = ""
    label: str = ""  # for logs
    accept: str = "application/json"

    def fetch(self, article: int) -> ProductFacts:
        raise NotImplementedError

    def get(self, url: str, *, timeout: float, params: dict | None = None) -> requests.Response:
        """GET ``url``; a 2xx answer, or ProductUnavailable saying why not."""
        session = requests.Session()
        session.trust_env = False  # no machine-wide proxy
        session.mount("http://", HTTPAdapter(max_retries=0))
        session.mount("https://", HTTPAdapter(max_retries=0))
        session.headers.update({"User-Agent": BROWSER_USER_AGENT, "Accept": self.accept, "Accept-Language": "ru-RU,ru;q=0.9"})
        try:
            response = session.get(url, params=params, timeout=timeout)
        except requests.Timeout as exc:
            raise ProductUnavailable(f"{self.label}: no answer in {timeout:g} s", permanent=False, code=Failure.TIMEOUT) from exc
        except requests.RequestException as exc:
            raise ProductUnavailable(
                f"{self.label}: network error ({exc.__class__.__name__})", permanent=False, code=Failure.UNREACHABLE
            ) from exc
        finally:
            session.close()
        status = response.status_code
        if 200 <= status < 300:
            return response
        retry_after = _retry_after(response.headers.get("Retry-After"))
        if status in (404, 410):
            raise ProductUnavailable(f"{self.label}: HTTP {status}", permanent=True, code=Failure.NOT_FOUND)
        if status == 403:
            raise ProductUnavailable(
                f"{self.label}: HTTP 403 (anti-bot refusal)", permanent=False, code=Failure.REFUSED, retry_after=retry_after
            )
        if status == 429:
            raise ProductUnavailable(
                f"{self.label}: HTTP 429 (rate limited)", permanent=False, code=Failure.RATE_LIMITED, retry_after=retry_after
            )
        raise ProductUnavailable(
            f"{self.label}: HTTP {status}", permanent=False, code=Failure.SERVER_ERROR, retry_after=retry_after
        )

    def unreadable(self, why: str) -> ProductUnavailable:
        return ProductUnavailable(f"{self.label}: {why}", permanent=False, code=Failure.UNREADABLE)


def _retry_after(value: str | None) -> int | None:
    """Seconds from a Retry-After header (only the delta-seconds form; dates are rare here)."""
    try:
        seconds = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def clean(value: object) -> str:
    return " ".join(str(value).split()) if value not in (None, "") else ""


def rouble_amount(value: object) -> float | None:
    """4990, "4990.00", "4 990 ₽" (with thin or no-break spaces) → 4990.0; anything else → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    text = "".join(ch for ch in str(value or "") if ch.isdigit() or ch in ".,")
    text = text.replace(",", ".")
    try:
        amount = float(text)
    except ValueError:
        return None
    return amount if amount > 0 else None


# Characteristic names (lower case) → fact; the same words on every Russian marketplace.
CHARACTERISTICS = {
    "состав": "composition",
    "состав материала": "composition",
    "материал": "composition",
    "ткань": "composition",
    "composition": "composition",
    "плотность": "density",
    "плотность ткани": "density",
    "density": "density",
    "уход за вещами": "care",
    "уход": "care",
    "care": "care",
    "бренд": "brand",
    "цвет": "colors",
}


def characteristic_facts(pairs: list[tuple[str, str]]) -> dict:
    """(name, value) pairs → composition/density/care/brand/colors; the first value of each wins."""
    found: dict = {}
    for name, value in pairs:
        fact = CHARACTERISTICS.get(clean(name).lower().rstrip(":"))
        value = clean(value)
        if fact and value and fact not in found:
            found[fact] = [c.strip() for c in value.split(",") if c.strip()] if fact == "colors" else value
    return found
