"""Loopback DeepL API v2: /v2/translate, /v2/languages, /v2/usage.

Follows the documented protocol: ``Authorization: DeepL-Auth-Key <key>``, form
or JSON bodies with repeated ``text``, ``{"translations": [{"detected_source_language",
"text", "billed_characters"}]}`` answers, and the documented errors — 403 bad
key, 400 unsupported language, 429 too many requests, 456 quota exceeded.

The "translation" is deterministic: every line (text between ``<br/>`` tags in
XML mode, between newlines otherwise) that has words gets ``[DE] `` in front;
tags are copied verbatim, as DeepL does with ``tag_handling="xml"``.

Failures (``fail_next``) apply to /v2/translate only: ``403``, ``429``, ``456``,
``500``, ``"drop_tag"`` (loses the first placeholder tag), ``"no_billed"`` (omits
``billed_characters``). ``character_limit`` makes the quota run out for real.
"""

from __future__ import annotations

import re

from .base import Emulator, Recorded, Reply

TARGETS = {
    "AR": "Arabic", "BG": "Bulgarian", "CS": "Czech", "DA": "Danish", "DE": "German", "EL": "Greek",
    "EN-GB": "English (British)", "EN-US": "English (American)", "ES": "Spanish", "ET": "Estonian", "FI": "Finnish",
    "FR": "French", "HU": "Hungarian", "ID": "Indonesian", "IT": "Italian", "JA": "Japanese", "KO": "Korean",
    "LT": "Lithuanian", "LV": "Latvian", "NB": "Norwegian", "NL": "Dutch", "PL": "Polish",
    "PT-BR": "Portuguese (Brazilian)", "PT-PT": "Portuguese (European)", "RO": "Romanian", "RU": "Russian",
    "SK": "Slovak", "SL": "Slovenian", "SV": "Swedish", "TR": "Turkish", "UK": "Ukrainian", "ZH": "Chinese (simplified)",
    "ZH-HANS": "Chinese (simplified)",
}  # fmt: skip
SOURCES = sorted({code.split("-")[0] for code in TARGETS})
TAG = re.compile(r"<[^>]+>")
LINE_SPLIT_XML = re.compile(r'(<br id="\d+"\s*/>)')


def fake_translate(text: str, target: str, xml: bool) -> str:
    """``[DE] `` before every line with words; tags untouched."""
    parts = LINE_SPLIT_XML.split(text) if xml else re.split(r"(\n)", text)
    out = []
    for part in parts:
        words = TAG.sub("", part) if xml else part
        if re.search(r"[^\W\d_]", words) and not (xml and LINE_SPLIT_XML.fullmatch(part)):
            lead = len(part) - len(part.lstrip())
            part = f"{part[:lead]}[{target}] {part[lead:]}"
        out.append(part)
    return "".join(out)


def header(request: Recorded, name: str) -> str | None:
    """A request header, whatever case the client wrote it in (httpx sends lower case)."""
    return next((value for key, value in request.headers.items() if key.lower() == name.lower()), None)


class DeepLEmulator(Emulator):
    def __init__(self, auth_key: str = "deepl-test-key", character_limit: int = 1_000_000) -> None:
        super().__init__()
        self.auth_key = auth_key
        self.character_limit = character_limit
        self.character_count = 0

    @property
    def translate_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v2/translate"]

    def handle(self, request: Recorded) -> Reply:
        if header(request, "Authorization") != f"DeepL-Auth-Key {self.auth_key}":
            return Reply(403, {"message": "Authorization failure, check auth_key"})
        if request.path == "/v2/languages" and request.method == "GET":
            if request.param("type", "source") == "target":
                return Reply(200, [{"language": c, "name": n, "supports_formality": c != "EN-US"} for c, n in TARGETS.items()])
            return Reply(200, [{"language": c, "name": TARGETS.get(c, c)} for c in SOURCES])
        if request.path == "/v2/usage" and request.method == "GET":
            return Reply(200, {"character_count": self.character_count, "character_limit": self.character_limit})
        if request.path == "/v2/translate" and request.method == "POST":
            return self.translate(request)
        return Reply(404, {"message": "Not found"})

    def translate(self, request: Recorded) -> Reply:
        body = (
            request.json if isinstance(request.json, dict) else {k: v if k == "text" else v[0] for k, v in request.form.items()}
        )
        texts = body.get("text") or []
        texts = [texts] if isinstance(texts, str) else texts
        target = str(body.get("target_lang", "")).upper()
        source = str(body.get("source_lang", "")).upper() or None
        if not texts:
            return Reply(400, {"message": "Parameter 'text' not specified."})
        if target not in TARGETS:
            return Reply(400, {"message": f"Value for 'target_lang' not supported: {target!r}."})
        if source is not None and source not in SOURCES:
            return Reply(400, {"message": f"Value for 'source_lang' not supported: {source!r}."})
        failure = self.take_failure()
        if failure in (403, 429, 500):
            messages = {403: "Authorization failure", 429: "Too many requests", 500: "Internal server error"}
            return Reply(failure, {"message": messages[failure]})
        size = sum(len(TAG.sub("", t)) for t in texts)
        if failure == 456 or self.character_count + size > self.character_limit:
            return Reply(456, {"message": "Quota for this billing period has been exceeded."})
        self.character_count += size
        xml = body.get("tag_handling") == "xml"
        translations = []
        for text in texts:
            translated = fake_translate(text, target.split("-")[0], xml)
            if failure == "drop_tag":
                translated = re.sub(r'<x id="\d+"\s*/>', "", translated, count=1)
            item = {"detected_source_language": source or "EN", "text": translated, "billed_characters": len(text)}
            if failure == "no_billed":
                item.pop("billed_characters")
            translations.append(item)
        return Reply(200, {"translations": translations})
