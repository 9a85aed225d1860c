"""Statements on the publishing engine's hot path, compiled to SQL once per process.

Django compiles a queryset to SQL on every evaluation. For the publisher's load of an execution —
the execution, its account with proxy and workspace, the post, and the account's saved policy in
subqueries — that compilation costs about ten times the CPU PostgreSQL needs to answer it
(3.1 ms against 0.3 ms per call, tests/bench/bench_engine.py); a plain ``.update()`` costs 0.3 ms
of compilation for a statement the server runs in a fraction of that.

``PreparedGet`` and ``PreparedUpdate`` compile their queryset once, with a stand-in for each
argument, and then run the same SQL with the real values. ``PreparedGet`` builds the instances
exactly as Django's own ``ModelIterable`` does (``from_db``, the related populators of
``select_related``, annotations), so the caller gets the objects a ``.filter()`` would give;
``PreparedUpdate`` returns the number of rows updated, as ``.update()`` does.

On PostgreSQL the statements are also prepared on the server (``DATABASE_PREPARED_STATEMENTS``, on by
default): PostgreSQL parses and plans each of them once per connection instead of on every call. The
publisher's load of an execution takes 0.06 ms of server CPU prepared against 0.66 ms planned anew
(planning is most of it: five joins and three subqueries for a one-row answer). Django itself never
prepares (its cursors bind parameters on the client), so only these statements are affected. Turn it
off behind a PgBouncer in transaction mode older than 1.21, which cannot keep prepared statements.

Arguments are declared with their kind (``int``, ``str``, ``datetime``, ``UUID``, ``dict`` for a JSON
field's value, written with the default encoder): the stand-in is a value of that kind found nowhere
else in the query. The queryset must not capture anything else
that changes between calls (the time, the user): such values are arguments too.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.models.sql import UpdateQuery

# The stand-in of the single positional key of a PreparedGet without declared arguments.
PLACEHOLDER = 8_070_450_532_247_928_831


def _stand_in(kind: type, index: int) -> Any:
    if kind is int:
        return PLACEHOLDER - index
    if kind is str:
        return f"\x1fprepared-argument-{index}\x1f"
    if kind is datetime:
        return datetime(1901, 2, 3, tzinfo=UTC) + timedelta(microseconds=index + 1)
    if kind is UUID:
        return UUID(int=PLACEHOLDER - index)
    if kind is dict:  # a JSON field's value
        return {"\x1fprepared-argument\x1f": index}
    raise TypeError(f"prepared statements take int, str, datetime, UUID or dict (JSON) arguments, not {kind.__name__}")


def _same(param: Any, form: Any) -> bool:
    # A JSON value is wrapped by the backend (psycopg's Jsonb, which has no equality of its own).
    return type(param) is type(form) and getattr(param, "obj", param) == getattr(form, "obj", form)


def _places(params, stand_ins: dict[str, Any], alias: str) -> dict[str, list[tuple[int, Callable]]]:
    """Where each argument goes in the parameters, and how its value is adapted there (a
    datetime or UUID may have been turned into text by the backend, as on SQLite)."""
    ops = connections[alias].ops
    places: dict[str, list[tuple[int, Callable]]] = {}
    for name, stand_in in stand_ins.items():
        forms: list[tuple[Any, Callable]] = [(stand_in, lambda value: value)]
        if isinstance(stand_in, datetime):
            forms.append((ops.adapt_datetimefield_value(stand_in), ops.adapt_datetimefield_value))
        if isinstance(stand_in, UUID):
            forms.append((stand_in.hex, lambda value: value.hex if isinstance(value, UUID) else UUID(str(value)).hex))
        if isinstance(stand_in, dict):
            forms = [(ops.adapt_json_value(stand_in, None), lambda value: ops.adapt_json_value(value, None))]
        for index, param in enumerate(params):
            for form, adapt in forms:
                if _same(param, form):
                    places.setdefault(name, []).append((index, adapt))
                    break
        if name not in places:
            raise ValueError(f"prepared statement: the argument {name!r} is not used by the query")
    return places


# psycopg prepares a statement on its own after it ran this many times on a connection; Django turns
# that off (None), which also refuses an explicit ``prepare=True``. This count is never reached: only
# the statements of this module, which ask for it, are prepared.
ONLY_WHEN_ASKED = 2**62


def _cursor(using: str):
    """A cursor of ``using`` (wrapped by Django like any other: logged, counted, errors translated);
    on PostgreSQL one that binds parameters on the server and prepares each statement it runs."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = ONLY_WHEN_ASKED
    with connection.wrap_database_errors:
        return connection._prepare_cursor(_preparing_cursor_class()(raw))


@functools.cache
def _preparing_cursor_class():
    """Django's server-binding cursor, asking psycopg to prepare every statement it runs (built on
    first use: the PostgreSQL backend imports psycopg, which a SQLite-only process never needs)."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

        def _send_query_prepared(self, name, pgq, *, binary=None):
            # psycopg leaves the cursor's query unset when it runs an already prepared statement;
            # Django reads it for its query log (DEBUG, CaptureQueriesContext), which would show None.
            super()._send_query_prepared(name, pgq, binary=binary)
            self._query = pgq

    return PreparingCursor


class _Prepared:
    def __init__(self, build: Callable[..., Any], kinds: dict[str, type]):
        self.build = build
        self.kinds = kinds or {"key": int}
        self.positional = not kinds
        self._compiled: dict[str, Any] = {}  # per database alias
        self._lock = threading.Lock()

    def _stand_ins(self) -> dict[str, Any]:
        return {name: _stand_in(kind, index) for index, (name, kind) in enumerate(self.kinds.items())}

    def _built(self, stand_ins: dict[str, Any]):
        return self.build(stand_ins["key"]) if self.positional else self.build(**stand_ins)

    def _get_compiled(self, using: str):
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(using) or self._compile(using)
                self._compiled[using] = compiled
        return compiled

    @staticmethod
    def _params(compiled, values: dict[str, Any]) -> list:
        params = list(compiled.params)
        for name, places in compiled.places.items():
            for index, adapt in places:
                params[index] = adapt(values[name])
        return params

    def _values(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        if self.positional:
            return {"key": args[0] if args else kwargs["key"]}
        if args or set(kwargs) != set(self.kinds):
            raise TypeError(f"prepared statement: give exactly {', '.join(self.kinds)} by name")
        return kwargs


@dataclass(frozen=True)
class _CompiledGet:
    sql: str
    params: tuple
    places: dict
    compiler: Any
    model: type[Model]
    init_list: list[str]
    fields_start: int
    fields_end: int
    populators: list
    annotations: dict[str, int]
    converters: dict  # the columns' from-database converters, found once (Django looks them up per query)


class PreparedGet(_Prepared):
    """``PreparedGet(lambda key: Model.objects.select_related(…).filter(pk=key))`` (an int key), or
    ``PreparedGet(lambda account, since: …, account=UUID, since=datetime)``: ``.get(…)`` returns the
    first instance or None, ``.all(…)`` all of them."""

    def __init__(self, build: Callable[..., QuerySet], **kinds: type):
        super().__init__(build, kinds)

    def _compile(self, alias: str) -> _CompiledGet:
        stand_ins = self._stand_ins()
        queryset = self._built(stand_ins).using(alias)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if compiler.has_extra_select or queryset._known_related_objects:
            raise ValueError("PreparedGet: the queryset must select no extras")
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        if compiler.has_composite_fields(fields):
            raise ValueError("PreparedGet: composite primary keys are not supported")
        klass_info, select = compiler.klass_info, compiler.select
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return _CompiledGet(
            sql=sql,
            params=tuple(params),
            places=_places(params, stand_ins, alias),
            compiler=compiler,
            model=klass_info["model"],
            init_list=[column[0].target.attname for column in select[start:end]],
            fields_start=start,
            fields_end=end,
            populators=get_related_populators(klass_info, select, alias),
            annotations=dict(compiler.annotation_col_map or {}),
            converters=compiler.get_converters(fields),
        )

    def all(self, *args, using: str = "default", **kwargs) -> list[Model]:
        """The instances the queryset gives for these arguments, in its order."""
        compiled = self._get_compiled(using)
        with _cursor(using) as cursor:
            cursor.execute(compiled.sql, self._params(compiled, self._values(args, kwargs)))
            rows = cursor.fetchall()
        found = []
        if rows and compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        for row in rows:
            obj = compiled.model.from_db(using, compiled.init_list, row[compiled.fields_start : compiled.fields_end])
            for populator in compiled.populators:
                populator.populate(row, obj)
            for name, position in compiled.annotations.items():
                setattr(obj, name, row[position])
            found.append(obj)
        return found

    def get(self, *args, using: str = "default", **kwargs) -> Model | None:
        """The first instance for these arguments, or None."""
        found = self.all(*args, using=using, **kwargs)
        return found[0] if found else None


@dataclass(frozen=True)
class _CompiledUpdate:
    sql: str
    params: tuple
    places: dict


class PreparedUpdate(_Prepared):
    """``PreparedUpdate(lambda pk, now: (Model.objects.filter(pk=pk), {"seen_at": now}), pk=int,
    now=datetime)``: ``.run(pk=…, now=…)`` updates as ``.filter(…).update(…)`` would and returns
    the number of rows updated."""

    def __init__(self, build: Callable[..., tuple[QuerySet, dict]], **kinds: type):
        super().__init__(build, kinds)

    def _compile(self, alias: str) -> _CompiledUpdate:
        stand_ins = self._stand_ins()
        queryset, values = self._built(stand_ins)
        query = queryset.using(alias).query.chain(UpdateQuery)
        query.add_update_values(values)
        query.annotations = {}
        compiler = query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if query.related_updates or not sql.startswith("UPDATE"):
            raise ValueError("PreparedUpdate: one table, updated by a plain filter")
        return _CompiledUpdate(sql=sql, params=tuple(params), places=_places(params, stand_ins, alias))

    def run(self, *args, using: str = "default", **kwargs) -> int:
        compiled = self._get_compiled(using)
        with transaction.mark_for_rollback_on_error(using=using), _cursor(using) as cursor:
            cursor.execute(compiled.sql, self._params(compiled, self._values(args, kwargs)))
            return cursor.rowcount
