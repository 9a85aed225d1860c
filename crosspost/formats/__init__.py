"""Date and time formats per language (settings.FORMAT_MODULE_PATH).

One format per language for every date people read — dashboard, admin, the
sandbox feed — always 24-hour. The long and short names are the same on
purpose: ``|date:"SHORT_DATETIME_FORMAT"`` in a template and a datetime column
in the admin (DATETIME_FORMAT) show a moment the same way. Anything not set
here (input formats, month/day formats) is Django's for the language.
"""
