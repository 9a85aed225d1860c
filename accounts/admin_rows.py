"""Changelist rows at the cost of what they show.

Django's ``items_for_result`` works out, for every cell of every row, what the column is (a model
field, a foreign key, an admin method), its CSS classes, its empty-value text and, for the linked
column, the change URL (a ``reverse()`` and a parse of the preserved filters per row) and then
formats the cell with ``format_html``. On a hundred-row list of eight columns that bookkeeping cost
as much as the data. ``fast_results`` decides each column once per page and then only reads and
formats the values; its HTML is Django's, cell for cell (tests/test_admin_rows.py compares them on
every scoped changelist).

Lists it does not cover fall back to Django's: editable lists (a form per row), popups and
``to_field`` lookups, primary keys other than integers and UUIDs.
"""

import datetime
from collections.abc import Callable

from django.contrib.admin.templatetags.admin_list import ResultList, _coerce_field_name
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import (
    FieldIsAForeignKeyColumnName,
    _get_non_gfk_field,
    display_for_field,
    display_for_value,
)
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateformat import DateFormat, re_escaped, re_formatchars
from django.utils.formats import get_format
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString

# Stands for the primary key in the change URL reversed once per page (letters only: no quoting).
_PK = "CPROWPK"

Cell = Callable[[models.Model], str]


def _value_getter(cl, name) -> tuple[Callable, object]:
    """What ``django.contrib.admin.utils.lookup_field`` calls for a column that is not a model
    field, and the attribute its display options (boolean, empty_value_display) are read from."""
    model_admin = cl.model_admin
    if callable(name):
        return name, name
    if hasattr(model_admin, name) and name != "__str__":
        method = getattr(model_admin, name)
        return method, method
    attr = getattr(model_admin.model, name, None) if hasattr(model_admin.model, name) else None

    def value(obj):
        sentinel = object()
        found = getattr(obj, name, sentinel)
        if callable(found):
            return found()
        if found is sentinel:
            found = obj
            for part in name.split("__"):
                found = getattr(found, part, sentinel)
                if found is sentinel:
                    return None
        return found

    return value, attr


def _column(cl, index: int, name, link: bool, tag: str) -> Cell:
    """One column's cell renderer: the checks items_for_result makes per cell, made once."""
    model_admin = cl.model_admin
    empty = model_admin.get_empty_value_display()
    classes = f"field-{_coerce_field_name(name, index)}"
    try:
        field = _get_non_gfk_field(cl.lookup_opts, name)
    except (FieldDoesNotExist, FieldIsAForeignKeyColumnName):
        field = None

    if field is None or field.auto_created:
        if field is None:
            getter, attr = _value_getter(cl, name)
        else:
            getter, attr = (lambda obj: getattr(obj, name)), None
        empty = getattr(attr, "empty_value_display", empty)
        if name == "action_checkbox":
            classes = "action-checkbox"
        boolean = getattr(attr, "boolean", False)
        if isinstance(attr, property) and hasattr(attr, "fget"):
            boolean = getattr(attr.fget, "boolean", False)

        def show(obj):
            value = getter(obj)
            if isinstance(value, str) and value.strip() == "":
                value = ""
            shown = display_for_value(value, empty, boolean)
            return shown, isinstance(value, (datetime.date, datetime.time))

    elif isinstance(field.remote_field, models.ManyToOneRel):
        classes += " nowrap"

        def show(obj):
            related = getattr(obj, field.name)
            return (empty if related is None else related), False

    else:
        if isinstance(field, (models.DateField, models.TimeField)):
            classes += " nowrap"

        text = _field_text(field, empty, link)

        def show(obj):
            value = getattr(obj, name)
            if isinstance(value, str) and value.strip() == "":
                value = ""
            return text(value), False

    opening = f'<{tag} class="{classes}">'
    opening_nowrap = f'<{tag} class="{classes} nowrap">'
    closing = f"</{tag}>"
    url = _change_url(cl) if link else None

    def cell(obj) -> str:
        try:
            shown, nowrap = show(obj)
        except ObjectDoesNotExist:
            shown, nowrap = empty, False
        content = conditional_escape(shown)
        if url is not None:
            before, after = url
            content = f'<a href="{before}{obj.pk}{after}">{content}</a>'
        return f"{opening_nowrap if nowrap else opening}{content}{closing}"

    return cell


# Format characters that depend on the date alone, on the time of day alone (dateformat's).
_DATE_CHARS = frozenset("bdDEFjlLmMnNoStwWyYz")
_TIME_CHARS = frozenset("aAfgGhHiPsu")


def _field_text(field, empty, link: bool) -> Callable:
    """``display_for_field`` for one column, remembering what repeats within a page: a count's
    text by value, and for a date and time each format character's text by date or by time of day
    (a date costs a gettext for its month name and a DateFormat; a page shows 200 of them)."""
    if getattr(field, "flatchoices", None) or isinstance(field, models.BooleanField):
        return lambda value: display_for_field(value, field, empty, avoid_link=link)
    if isinstance(field, models.IntegerField | models.FloatField):
        seen = {}

        def count_text(value):
            if value not in seen:
                seen[value] = display_for_field(value, field, empty, avoid_link=link)
            return seen[value]

        return count_text
    if isinstance(field, models.DateTimeField):
        return _datetime_text(field, empty)
    return lambda value: display_for_field(value, field, empty, avoid_link=link)


def _datetime_text(field, empty) -> Callable:
    """``formats.localize(timezone.template_localtime(value))``, as display_for_field shows a
    date and time, in the active language and time zone."""
    pieces = re_formatchars.split(str(get_format("DATETIME_FORMAT")))
    chars = set(pieces[1::2])
    if not chars <= _DATE_CHARS | _TIME_CHARS:  # a time zone or a timestamp in the format: as Django does
        return lambda value: display_for_field(value, field, empty)
    literals = [re_escaped.sub(r"\1", piece) for piece in pieces[0::2]]
    seen = {}

    def text(value):
        if value in field.empty_values:
            return empty
        local = timezone.template_localtime(value)
        day, time = local.date(), local.time()
        out = [literals[0]]
        for index, char in enumerate(pieces[1::2]):
            key = (char, day if char in _DATE_CHARS else time)
            if key not in seen:
                seen[key] = str(getattr(DateFormat(local), char)())
            out.append(seen[key])
            out.append(literals[index + 1])
        return "".join(out)

    return text


def _change_url(cl) -> tuple[str, str] | None:
    """The row's change URL (with the list's preserved filters), escaped, split around the key."""
    opts = cl.opts
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=(_PK,), current_app=cl.model_admin.admin_site.name)
    except NoReverseMatch:
        return None
    url = add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": opts}, url)
    before, _, after = url.partition(_PK)
    return escape(before), escape(after)


def fast_results(cl) -> list[ResultList] | None:
    """The rows ``django.contrib.admin.templatetags.admin_list.results`` would give, or None for a
    list it does not cover (then Django's renderer is used)."""
    # An integer or UUID key is its own URL path segment; others need quote() and reverse() per row.
    if cl.formset or cl.is_popup or cl.to_field or not isinstance(cl.lookup_opts.pk, models.IntegerField | models.UUIDField):
        return None
    columns = []
    first = True
    for index, name in enumerate(cl.list_display):
        if cl.list_display_links is None:
            link = False
        else:
            link = (first and not cl.list_display_links) or name in cl.list_display_links
        tag = "th" if link and first else "td"
        if link:
            first = False
        columns.append(_column(cl, index, name, link, tag))
    return [ResultList(None, [SafeString(cell(obj)) for cell in columns]) for obj in cl.result_list]
