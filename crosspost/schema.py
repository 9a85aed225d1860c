"""The OpenAPI schema (drf-spectacular): what every operation may answer besides success.

Every operation documents the refusals the API actually gives, with one body shape
(``Error``): 400 a malformed request, 401 no or bad credentials, 403 a missing role,
404 an object that is not in your workspaces, 409 a well-formed request that conflicts
with stored data (see ``accounts.api_base.CONFLICT_CODES``), 429 too many requests or
logins (with ``Retry-After``). ``scripts/api-fuzz.sh`` holds the API to this schema.
"""

from drf_spectacular import openapi

ERROR_RESPONSES = {
    "400": "The request is malformed: `detail`, or the fields (query parameters) in error with their messages. "
    "Text never holds NUL characters.",
    "401": "No credentials, or they are wrong or expired.",
    "403": "Your role does not allow this (`detail` says which role is needed).",
    "404": "No such object in your workspaces (or no such page).",
    "409": "The request conflicts with stored data: an id that is not in your workspaces, a duplicate, "
    "or an object whose state forbids the change. Same body as a 400.",
    "429": "Too many requests, or too many failed logins; retry after `Retry-After` seconds.",
}

ERROR_SCHEMA = {
    "type": "object",
    "description": "Why the request was refused. `detail` is about the request as a whole; any other key names "
    "a field (or query parameter) with its messages — for a nested field an object (or list) keyed the same way. "
    "`non_field_errors` are about several fields together.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Why a token was refused, e.g. token_not_valid."},
        "messages": {"type": "array", "items": {"type": "object"}, "description": "Details of a refused token."},
    },
    "additionalProperties": {"$ref": "#/components/schemas/FieldErrors"},
}

FIELD_ERRORS_SCHEMA = {
    "description": "Messages for one field: a list of texts, or for a nested field its own errors by key or position.",
    "anyOf": [
        {"type": "array", "items": {"anyOf": [{"type": "string"}, {"$ref": "#/components/schemas/FieldErrors"}]}},
        {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/FieldErrors"}},
    ],
}

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}


class AutoSchema(openapi.AutoSchema):
    def _get_request_for_media_type(self, serializer, direction="request"):
        # DRF validates a partial body only in partial_update; a custom PATCH action (e.g. a caption)
        # validates its body in full, so its schema must not drop the required fields.
        if self.method == "PATCH" and getattr(self.view, "action", "partial_update") != "partial_update":
            self.method = "PUT"
            try:
                return super()._get_request_for_media_type(serializer, direction)
            finally:
                self.method = "PATCH"
        return super()._get_request_for_media_type(serializer, direction)


def document_error_responses(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOKS: the ``Error`` responses on every operation.

    An operation that documents its own body for a status (the proxy import's 400 report)
    answers that body or an ``Error``.
    """
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas["FieldErrors"] = FIELD_ERRORS_SCHEMA
    error = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_RESPONSES.items():
                own = responses.get(status, {}).get("content", {}).get("application/json", {}).get("schema")
                schema = {"anyOf": [own, error]} if own and own != error else error
                responses[status] = {"description": description, "content": {"application/json": {"schema": schema}}}
                if status == "429":
                    responses[status]["headers"] = RETRY_AFTER
    return result


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retried write safe: the first request with this key runs and its answer is kept "
    "for 24 h; the same key with the same method, path and body gets that answer again (with "
    "`Idempotent-Replayed: true`) without running twice. The same key with another request: 422; "
    "while the first still runs: 409. 1–255 visible ASCII characters (no spaces), e.g. a UUID.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7E]{1,255}$"},
}
IDEMPOTENCY_422 = "The Idempotency-Key was already used for another request (another method, path or body)."


def document_idempotency_key(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOKS: the ``Idempotency-Key`` header on every write under /api/v1/ that a
    user makes (crosspost/idempotency.py), and its 422."""
    from .idempotency import EXCLUDED_PREFIXES, PREFIX, WRITE_METHODS

    error = {"$ref": "#/components/schemas/Error"}
    for path, item in result.get("paths", {}).items():
        if not path.startswith(PREFIX) or path.startswith(EXCLUDED_PREFIXES):
            continue
        for method, operation in item.items():
            if method.upper() not in WRITE_METHODS:
                continue
            operation.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)
            operation.setdefault("responses", {})["422"] = {
                "description": IDEMPOTENCY_422,
                "content": {"application/json": {"schema": error}},
            }
    return result
