"""``{% cp_result_list cl %}``: Django's ``{% result_list cl %}`` with the rows rendered by
``accounts.admin_rows.fast_results`` (the same HTML, decided once per column instead of per cell)."""

from django import template
from django.contrib.admin.templatetags.admin_list import result_headers, result_list
from django.contrib.admin.templatetags.base import InclusionAdminNode

from accounts.admin_rows import fast_results

register = template.Library()


def fast_result_list(cl) -> dict:
    rows = fast_results(cl)
    if rows is None:
        return result_list(cl)
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": [],  # only editable lists have them, and those are Django's
        "result_headers": headers,
        "num_sorted_fields": sum(1 for header in headers if header["sortable"] and header["sorted"]),
        "results": rows,
    }


@register.tag(name="cp_result_list")
def result_list_tag(parser, token):
    return InclusionAdminNode(parser, token, func=fast_result_list, template_name="change_list_results.html", takes_context=False)
