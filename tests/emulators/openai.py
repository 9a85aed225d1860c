"""Loopback OpenAI Chat Completions: POST /v1/chat/completions.

``Authorization: Bearer <key>``; answers are chat.completion objects. The fake
model is deterministic and reads the JSON the app sends as the user message:

- translation (``{"texts", "target", "glossary"}``): every line with words gets
  ``[de] `` in front, glossary terms are replaced by their translation, tags
  (``<x id="0"/>``, ``<br id="1"/>``) are kept verbatim;
- caption (``{"brief", "max_length", "hashtag_min", ...}``): the brief's first
  line as the caption and enough hashtags (the required ones first) to meet the
  minimum — a compliant model;
- Yandex Direct ads (``{"product", "site", "phrases", "ads"}``): ``ads`` ads built
  from the first phrase, within Direct's limits.

``reply_next(content)`` queues literal assistant answers (to test repair and
rejection). ``fail_next``: ``401``, ``429`` (rate_limit_exceeded, ``retry-after: 7``),
``"insufficient_quota"`` (429 + ``x-should-retry: false``), ``500``, ``"drop_tag"``.
"""

from __future__ import annotations

import json
import re
import time

from .base import Emulator, Recorded, Reply

TAG = re.compile(r"<[^>]+>")


def _error(status: int, message: str, type_: str, code: str | None, headers: dict | None = None) -> Reply:
    return Reply(status, {"error": {"message": message, "type": type_, "param": None, "code": code}}, headers or {})


def header(request: Recorded, name: str) -> str | None:
    """A request header, whatever case the client wrote it in (httpx sends lower case)."""
    return next((value for key, value in request.headers.items() if key.lower() == name.lower()), None)


class OpenAIEmulator(Emulator):
    def __init__(self, api_key: str = "sk-test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self._replies: list[str] = []

    def reply_next(self, *contents: str | dict) -> None:
        with self.lock:
            self._replies.extend(c if isinstance(c, str) else json.dumps(c, ensure_ascii=False) for c in contents)

    @property
    def completion_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    @staticmethod
    def user_payload(request: Recorded, index: int = 0) -> dict:
        """The JSON of the ``index``-th user message of a recorded request."""
        users = [m for m in request.json["messages"] if m["role"] == "user"]
        return json.loads(users[index]["content"])

    def handle(self, request: Recorded) -> Reply:
        if header(request, "Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if request.path != "/v1/chat/completions" or request.method != "POST":
            return _error(404, "Not found", "invalid_request_error", None)
        failure = self.take_failure()
        if failure == 401:
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if failure == 429:
            return _error(
                429,
                "Rate limit reached for gpt-4o-mini on tokens per min (TPM). Please try again in 7s.",
                "tokens",
                "rate_limit_exceeded",
                {"retry-after": "7"},
            )
        if failure == "insufficient_quota":
            return _error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
                {"x-should-retry": "false"},
            )
        if failure == 500:
            return _error(500, "The server had an error while processing your request.", "server_error", None)
        body = request.json or {}
        with self.lock:
            content = self._replies.pop(0) if self._replies else None
        if content is None:
            messages = body.get("messages") or []
            users = [m for m in messages if m.get("role") == "user"]
            payload = json.loads(users[0]["content"])
            if "texts" in payload:
                answer = self.translate(payload, failure)
            elif "phrases" in payload:
                answer = self.direct_ads(payload)
            else:
                answer = self.caption(payload)
            content = json.dumps(answer, ensure_ascii=False)
        return Reply(
            200,
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "gpt-4o-mini"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            },
        )

    @staticmethod
    def translate(payload: dict, failure) -> dict:
        target = payload["target"].split("-")[0].lower()
        out = []
        for text in payload["texts"]:
            for term, translation in (payload.get("glossary") or {}).items():
                text = re.sub(rf"(?<!\w){re.escape(term)}(?!\w)", translation, text)
            parts = re.split(r'(<br id="\d+"\s*/>)', text)
            text = "".join(
                f"[{target}] {part}" if re.search(r"[^\W\d_]", TAG.sub("", part)) and not part.startswith("<br") else part
                for part in parts
            )
            if failure == "drop_tag":
                text = re.sub(r'<x id="\d+"\s*/>', "", text, count=1)
            out.append(text)
        return {"translations": out}

    @staticmethod
    def caption(payload: dict) -> dict:
        first = (payload.get("brief") or payload.get("title") or "").strip().split("\n")[0]
        first = re.sub(r"(?<![\w#])#\w[\w-]*", "", first).strip()
        tags = list(payload.get("required_hashtags") or [])
        n = 0
        while len(tags) < payload.get("hashtag_min", 0):
            n += 1
            tags.append(f"#tag{'abcdefghij'[n % 10]}{n}")
        tags = tags[: max(payload.get("hashtag_max", 30), len(payload.get("required_hashtags") or []))]
        room = payload.get("max_length", 2200) - len(" ".join(tags)) - 2
        return {"caption": f"[{payload['language']}] {first}"[:room], "hashtags": tags}

    @staticmethod
    def direct_ads(payload: dict) -> dict:
        phrase = (payload.get("phrases") or ["товар"])[0]
        words = phrase.split()
        title1 = ""
        for word in words:
            if len(f"{title1} {word}".strip()) > 50:
                break
            title1 = f"{title1} {word}".strip()
        path = "-".join(re.sub(r"[^\w-]", "", w) for w in words[:2])[:20].strip("-")
        site = (payload.get("site") or "")[:30]
        short = " ".join(words[:3])[:30].capitalize()
        return {
            "ads": [
                {
                    "title1": title1.capitalize(),
                    "title2": f"Вариант {n + 1}",
                    "text": f"{short} на {site}. Заказывайте онлайн!",
                    "display_path": path,
                }
                for n in range(payload.get("ads", 1))
            ]
        }
