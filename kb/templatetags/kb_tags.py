import json

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

# The same escapes Django's json_script uses, so data can never close the <script> element.
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.filter
def jsonld(value) -> str:
    payload = json.dumps(value, ensure_ascii=False).translate(_JSON_SCRIPT_ESCAPES)
    # Safe: <, > and & are escaped as \u003C etc. above, so the payload cannot end the element.
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(payload))  # noqa: S308


@register.simple_tag
def theme_script() -> str:
    """static/js/theme.js inline, allowed by its hash in the CSP (config/inline_script.py)."""
    from config.inline_script import THEME_SCRIPT

    # Safe: our own static file's code (no "</script>" in it), not data from anyone.
    return format_html("<script>{}</script>", mark_safe(THEME_SCRIPT))  # noqa: S308


@register.simple_tag(takes_context=True)
def absolute_url(context, path: str = "") -> str:
    from django.conf import settings

    return f"{settings.SITE_URL}{path or context['request'].path}"
