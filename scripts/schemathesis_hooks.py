"""schemathesis hooks for scripts/api-fuzz.sh (loaded through SCHEMATHESIS_HOOKS).

An Idempotency-Key names one request (crosspost/idempotency.py): the same key with another body or
path is refused with 422, and the same request again is answered from storage without running.
The fuzzer draws its header values from a small space ("0", "00", …) and would reuse them across
thousands of requests, so most writes would stop at the key instead of reaching their view. A
well-formed key is therefore made unique per request; a malformed one is sent as generated, so
the 400 for a bad key is still fuzzed. Replays and 422s are covered by tests/planning/test_idempotency.py.
"""

import re
import uuid

import schemathesis

HEADER = "Idempotency-Key"
WELL_FORMED = re.compile(r"[\x21-\x7E]{1,255}")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == HEADER.lower() and isinstance(headers[name], str) and WELL_FORMED.fullmatch(headers[name]):
            headers[name] = str(uuid.uuid4())
