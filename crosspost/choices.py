"""A field's choice label at the cost of one translation.

Django's ``get_<field>_display()`` builds a dict of the field's choices on every call and hashes each
lazy label to do so, which translates every label of the field (a dozen gettext calls for an
execution's status). A list of a hundred rows with a status badge and a title naming two choices
spent a fifth of its time there. ``choice_label`` returns the same string from a per-field table
built once, translating only the label it returns.
"""

import functools

from django.db.models import Field, Model
from django.utils.encoding import force_str


@functools.cache
def _labels(field: Field) -> dict:
    # Later duplicates win, as in Django's dict(field.flatchoices); the labels stay lazy, so each
    # lookup is translated into the active language.
    return {value: label for value, label in field.flatchoices}


def choice_label(instance: Model, field_name: str):
    """What ``instance.get_<field_name>_display()`` returns: the label of the stored value in the
    active language, the value itself when it is not one of the choices."""
    field = instance._meta.get_field(field_name)
    try:
        return value_label(field, getattr(instance, field.attname))
    except TypeError:  # an unhashable value (a list): Django's own way
        return getattr(instance, f"get_{field_name}_display")()


def value_label(field: Field, value):
    """The label of ``value`` among ``field``'s choices, as choice_label gives it for a row read as
    values (no instance)."""
    return force_str(_labels(field).get(value, value), strings_only=True)
