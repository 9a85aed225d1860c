"""``{% metric number %}``: one statistic in a table cell — its value, or "not available" with the
reason as a tooltip, and "n of m accounts report it" under a partial sum. A tag rather than an
include: a page of results draws hundreds of cells, and an include costs a template render each."""

from django import template
from django.template.defaultfilters import floatformat
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()


@register.simple_tag
def metric(number) -> SafeString:
    """``number``: a stats.selectors Number (a sum) or Cell (one publication's value)."""
    if number.value is None:
        return format_html(
            '<span class="not-available" title="{}" data-metric="{}">{}</span>', number.reason, number.metric, _("not available")
        )
    value = floatformat(number.value, "-1") if number.metric == "watch_time_s" else number.value
    shown = format_html('<span data-metric="{}">{}</span>', number.metric, value)
    if getattr(number, "partial", False):
        note = ngettext(
            "%(reporting)d of %(of)d account reports it", "%(reporting)d of %(of)d accounts report it", number.reporting
        ) % {"reporting": number.reporting, "of": number.of}
        title = _("Only these accounts report it; the sum covers them alone.")
        shown += format_html('<br><small class="partial" title="{}">{}</small>', title, note)
    return shown
