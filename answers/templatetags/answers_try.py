"""The published answer with an "Edit and run" form in each runnable cell.

The answer's HTML is stored once, when its run finishes, and knows nothing of readers; the
forms carry this page's CSRF token, so they are put in when the page is rendered (the page
cache then stores the page split around that one token, as for every other form). Each cell
holds a marker for its form; a page stored before the marker existed gets the form at the top
of the cell instead.
"""

import re

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from answers.cells import parse_answer
from answers.try_runs import MAX_CODE_CHARS

register = template.Library()

_MARKER = re.compile(r"<!--try-form:(\d+)-->")
_CELL_START = re.compile(r'(<div class="cell cell--[a-z_-]+" id="cell-\d+" data-cell-index="(\d+)")')


def _editable(cell) -> bool:
    # Hidden code stays hidden; readers' runs have no GPU.
    return not cell.options.hide and cell.options.device != "cuda"


@register.simple_tag(takes_context=True)
def answer_with_try_forms(context, answer):
    html = answer.published_html or ""
    # No cells, no forms, and no query for the revision (cached or not, a prose page costs none).
    if not answer.published_verified or not answer.cell_count or answer.published_revision is None:
        return mark_safe(html)  # noqa: S308 - stored HTML, sanitised when it was rendered
    cells = {c.index: c for c in parse_answer(answer.published_revision.body).cells if _editable(c)}
    token = str(context.get("csrf_token") or "")
    slug = answer.question.slug

    def form(index: int) -> str:
        cell = cells.get(index)
        if cell is None:
            return ""
        return render_to_string(
            "answers/try_form.html",
            {
                "cell": cell,
                "number": index + 1,
                "slug": slug,
                "csrf_token": token,
                "max_chars": MAX_CODE_CHARS,
            },
        )

    if _MARKER.search(html):
        return mark_safe(_MARKER.sub(lambda m: form(int(m.group(1))), html))  # noqa: S308 - template output
    return mark_safe(_CELL_START.sub(lambda m: form(int(m.group(2))) + m.group(1), html))  # noqa: S308
