"""Reads on the publishing engine's hot path, compiled to SQL once per process.

Django compiles a queryset to SQL on every evaluation. For the publisher's load of an execution —
the execution, its account with proxy and workspace, the post, and the account's saved policy in
subqueries — that compilation costs about ten times the CPU PostgreSQL needs to answer it
(3.7 ms against 0.36 ms per call, tests/bench/bench_engine.py). ``PreparedGet`` compiles the
queryset once, runs the same SQL with the new key, and builds the instances exactly as Django's
own ``ModelIterable`` does (``from_db``, the related populators of ``select_related``, annotations):
the caller gets the same objects a ``.get()`` would give.

The queryset is built with a placeholder key, so it must not capture anything that changes
between calls (the time, the user): such values belong in the row, or in a query of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

# The key the queryset is compiled with; its place in the parameters takes each call's key.
PLACEHOLDER = 8_070_450_532_247_928_831


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    key_index: int
    compiler: Any
    model: type[Model]
    init_list: list[str]
    fields_start: int
    fields_end: int
    populators: list
    annotations: dict[str, int]


class PreparedGet:
    """``PreparedGet(lambda key: Model.objects.select_related(…).filter(pk=key))``: ``.get(key)``
    returns the first instance or None, ``.all(key)`` all of them."""

    def __init__(self, build: Callable[[Any], QuerySet]):
        self.build = build
        self._compiled: dict[str, _Compiled] = {}  # per database alias
        self._lock = threading.Lock()

    def _compile(self, alias: str) -> _Compiled:
        queryset = self.build(PLACEHOLDER).using(alias)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        places = [index for index, value in enumerate(params) if value == PLACEHOLDER]
        if len(places) != 1 or compiler.has_extra_select or queryset._known_related_objects:
            raise ValueError("PreparedGet: the queryset must use its key exactly once and select no extras")
        klass_info, select = compiler.klass_info, compiler.select
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return _Compiled(
            sql=sql,
            params=tuple(params),
            key_index=places[0],
            compiler=compiler,
            model=klass_info["model"],
            init_list=[column[0].target.attname for column in select[start:end]],
            fields_start=start,
            fields_end=end,
            populators=get_related_populators(klass_info, select, alias),
            annotations=dict(compiler.annotation_col_map or {}),
        )

    def all(self, key: Any, *, using: str = "default") -> list[Model]:
        """The instances the queryset gives for ``key``, in its order."""
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.setdefault(using, self._compile(using))
        params = list(compiled.params)
        params[compiled.key_index] = key
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        found = []
        for row in compiled.compiler.results_iter([rows]) if rows else ():
            obj = compiled.model.from_db(using, compiled.init_list, row[compiled.fields_start : compiled.fields_end])
            for populator in compiled.populators:
                populator.populate(row, obj)
            for name, position in compiled.annotations.items():
                setattr(obj, name, row[position])
            found.append(obj)
        return found

    def get(self, key: Any, *, using: str = "default") -> Model | None:
        """The first instance for ``key``, or None."""
        found = self.all(key, using=using)
        return found[0] if found else None
