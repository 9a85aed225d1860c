"""The placeholders a caption template may use, and its check — shared by a post's own template
(``Post.caption_template``) and a publishing policy's; ``publishing.caption_templates`` renders them.

``{caption}`` is the whole caption (in the account's language), ``{description}`` the same without
its closing hashtag lines, ``{hashtags}`` those hashtags plus the policy's required ones;
``{brand}``, ``{composition}`` and ``{care}`` come from the product facts when the post names a product.
"""

import re

from django.utils.translation import gettext as _

FIELDS = ("caption", "title", "description", "hashtags", "brand", "composition", "care")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def check_template(template: str) -> list[str]:
    """What is wrong with ``template``, in an operator's words (empty: fine)."""
    unknown = sorted({name for name in PLACEHOLDER.findall(template or "") if name not in FIELDS})
    if unknown:
        return [
            _("Unknown placeholder(s) %(unknown)s; use %(known)s.")
            % {"unknown": ", ".join("{" + n + "}" for n in unknown), "known": ", ".join("{" + f + "}" for f in FIELDS)}
        ]
    return []
