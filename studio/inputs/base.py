"""The shape every input client has, the one error they raise, and what they share: validating a
source's options and secret, the HTTP session, streaming a body to a file with progress and a stop.

A client is plain code around one protocol: it gets the source's options and secret (decrypted)
as dicts and returns plain data (``RemoteFile``); discovery (``studio.sync``) turns that into rows.
``RemoteFile.extra`` is stored on the recording (``Recording.remote``) and handed back to
``download()``/``delete()`` later, so it holds what those need and never a secret."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from studio.models import InputSource

CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class RemoteFile:
    """One file a source offers, as the source describes it."""

    remote_id: str  # stable and unique within the source
    name: str  # what an operator sees
    size: int | None
    recorded_at: datetime | None  # aware
    duration_s: float | None
    extra: dict = field(default_factory=dict)  # stored as Recording.remote; never a secret


class InputError(Exception):
    """A source could not be read. The message says what to fix; ``retryable`` tells whether the same
    call may succeed later (a rate limit, a server error, a network failure), ``retry_after`` how many
    seconds the source asked to wait (None: it did not say)."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


class Stopped(Exception):
    """A download was stopped on request (``should_stop()`` turned True); the partial file is not kept."""


ProgressCallback = Callable[[int, int | None], None]
StopCallback = Callable[[], bool]


class InputClient(ABC):
    """One source's protocol: list what it offers, download one file, delete it once it is safe."""

    @abstractmethod
    def list(self) -> Iterator[RemoteFile]:
        """Every file the source offers now (discovery drops those it already has)."""

    @abstractmethod
    def download(self, remote: dict, dest: Path, *, on_progress: ProgressCallback, should_stop: StopCallback) -> int:
        """Stream the file ``remote`` describes to ``dest``; return its size in bytes.

        ``on_progress(done, total)`` is called as bytes arrive (total None when unknown); when
        ``should_stop()`` turns True the download ends within about a second by raising ``Stopped``."""

    def delete(self, remote: dict) -> None:  # noqa: B027 — most sources keep their files
        """Remove the file at the source after a successful download, when the source's options ask."""


# --- validating a source ---------------------------------------------------------------------------

# kind → module with ``clean(options, secret, existing_secret) -> (options, secret)`` and ``client(source)``.
KINDS = {
    "zoom": "studio.inputs.zoom",
    "yandex_disk": "studio.inputs.yandex_disk",
    "folder": "studio.inputs.folder",
}


def _kind_module(kind: str):
    if kind not in KINDS:
        raise ValidationError(
            {"kind": _("Unknown source kind %(kind)s: choose one of %(kinds)s.") % {"kind": kind, "kinds": ", ".join(KINDS)}}
        )
    return importlib.import_module(KINDS[kind])


def clean_source(kind: str, options: dict, secret: dict, *, existing_secret: dict | None = None) -> tuple[dict, dict]:
    """Validate and normalise a source's options and secret for ``kind``.

    Unknown keys are dropped, defaults filled in. A secret field left empty keeps its value from
    ``existing_secret`` (the form never shows a secret, so an edit that leaves it blank means "keep").
    Raises ``ValidationError({"options": …})`` / ``({"secret": …})`` with messages that say what to fix."""
    if not isinstance(options, dict):
        raise ValidationError({"options": _("Options must be a JSON object.")})
    if not isinstance(secret, dict):
        raise ValidationError({"secret": _("The secret must be a JSON object.")})
    return _kind_module(kind).clean(options, secret, existing_secret or {})


def client_for(source: InputSource) -> InputClient:
    """The client that reads ``source`` (its options and decrypted secret)."""
    return _kind_module(source.kind).client(source)


def keep_secret(secret: dict, existing: dict, names: list[str]) -> tuple[dict, list[str]]:
    """The secret's ``names`` (stripped strings), an empty one taken from ``existing``; and the names still empty."""
    cleaned, missing = {}, []
    for name in names:
        value = str(secret.get(name) or "").strip() or str(existing.get(name) or "").strip()
        cleaned[name] = value
        if not value:
            missing.append(name)
    return cleaned, missing


def int_option(options: dict, name: str, default: int, low: int, high: int) -> int:
    value = options.get(name, default)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({"options": _("%(name)s must be a whole number.") % {"name": name}}) from None
    if not low <= number <= high:
        raise ValidationError(
            {"options": _("%(name)s must be from %(low)s to %(high)s.") % {"name": name, "low": low, "high": high}}
        )
    return number


# --- HTTP -------------------------------------------------------------------------------------------


def http_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "Crosspost-Studio/1.0"
    return session


def timeout() -> float:
    return settings.STUDIO_HTTP_TIMEOUT_SECONDS


def retry_after(response: requests.Response) -> float | None:
    """The Retry-After header in seconds (either form the RFC allows), None when absent or unreadable."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def network_error(service: str, exc: requests.RequestException) -> InputError:
    return InputError(
        _("%(service)s could not be reached (%(reason)s); the next attempt retries.")
        % {"service": service, "reason": type(exc).__name__},
        retryable=True,
    )


def json_object(response: requests.Response, service: str) -> dict:
    """The JSON object a service answered, or a retryable InputError (a proxy's HTML page, a cut-off body)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InputError(
            _("%(service)s answered something other than JSON; the next attempt retries.") % {"service": service}, retryable=True
        )
    return body


def stream_to_file(
    response: requests.Response,
    dest: Path,
    *,
    total: int | None,
    on_progress: ProgressCallback,
    should_stop: StopCallback,
    max_bytes: int | None = None,
    too_big: Callable[[], InputError] | None = None,
) -> int:
    """Write ``response``'s body to ``dest`` chunk by chunk; return the bytes written.

    Checks ``should_stop()`` between chunks (a chunk arrives well within a second on any working
    link) and raises ``Stopped``; beyond ``max_bytes`` raises ``too_big()``. A partial file is removed."""
    try:
        with open(dest, "wb") as out:
            return copy_stream(
                response.iter_content(CHUNK_BYTES),
                out,
                total=total,
                on_progress=on_progress,
                should_stop=should_stop,
                max_bytes=max_bytes,
                too_big=too_big,
            )
    except requests.RequestException as exc:
        dest.unlink(missing_ok=True)
        raise InputError(
            _("The download broke off (%(reason)s); the next attempt starts it again.") % {"reason": type(exc).__name__},
            retryable=True,
        ) from exc
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    finally:
        response.close()


def copy_stream(
    chunks,
    out: BinaryIO,
    *,
    total: int | None,
    on_progress: ProgressCallback,
    should_stop: StopCallback,
    max_bytes: int | None = None,
    too_big: Callable[[], InputError] | None = None,
) -> int:
    done = 0
    on_progress(0, total)
    for chunk in chunks:
        if should_stop():
            raise Stopped
        if not chunk:
            continue
        done += len(chunk)
        if max_bytes is not None and done > max_bytes:
            raise too_big() if too_big else InputError(_("The file is too large."))
        out.write(chunk)
        on_progress(done, total)
    if should_stop():
        raise Stopped
    return done
