"""The view that serves the OpenAPI schema (apart from crosspost.schema, which DRF loads as its
schema class while drf_spectacular.views is still importing)."""

import threading

from drf_spectacular.views import SpectacularAPIView


class SchemaView(SpectacularAPIView):
    """``/api/schema/``, generated one request at a time per process.

    drf-spectacular's generator mutates class-level state (extensions resolve their target classes
    on first use; GENERATOR_STATS) without a lock, so two first requests in parallel threads can
    fail with a 500 — drf-spectacular issues #1122 and #1368, seen here when the API fuzzer's two
    processes fetched the schema at once from a fresh gunicorn worker (``--threads 2``)."""

    _lock = threading.Lock()

    def _get_schema_response(self, request):
        with self._lock:
            return super()._get_schema_response(request)
