"""Markdown -> sanitised HTML, done once when an answer is saved.

Prose goes through python-markdown then nh3; runnable cells are cut out first, rendered by
a Django template (autoescaped) and put back after sanitising, so a cell can never smuggle
markup into the page and sanitising never mangles our own cell markup.
"""

from __future__ import annotations

import html
import re
import secrets
import threading
from dataclasses import dataclass

import markdown
import nh3
from django.template.loader import render_to_string
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from pygments.token import Name, Operator, Punctuation, Text

from .anchors import heading_slug
from .cells import Cell, ParsedAnswer, markdown_lines, parse_answer
from .rich_output import output_parts

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
    "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "img": {"src", "alt", "title", "width", "height"},
    "div": {"class"},
    "span": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "td": {"align"},
    "th": {"align"},
    **{f"h{level}": {"id"} for level in range(1, 7)},
}
_URL_SCHEMES = {"http", "https", "mailto"}

_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class RenderedAnswer:
    html: str
    toc_html: str
    text: str
    parsed: ParsedAnswer


_per_thread = threading.local()


def _markdown() -> markdown.Markdown:
    """One converter per thread, reset before each use: building one (its extensions, their
    patterns) costs more than converting a short answer."""
    md = getattr(_per_thread, "markdown", None)
    if md is None:
        md = _per_thread.markdown = _new_markdown()
    md.reset()
    return md


def _new_markdown() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=["fenced_code", "tables", "toc", "codehilite", "sane_lists"],
        extension_configs={
            "toc": {
                "slugify": heading_slug,
                "permalink": "#",
                "permalink_title": "Link to this section",
                "toc_depth": "2-3",
            },
            "codehilite": {
                "css_class": "highlight",
                "guess_lang": False,
                "pygments_formatter": PlainTokensHtmlFormatter,
            },
        },
        output_format="html",
    )


def _same_site_images_only(tag: str, attribute: str, value: str) -> str | None:
    # An image from another host would be fetched by every reader's browser before any cookie
    # choice (a third-party request we promise not to make): only the site's own paths.
    if tag == "img" and attribute == "src" and (not value.startswith("/") or value.startswith("//")):
        return None
    return value


def sanitize(fragment: str) -> str:
    return nh3.clean(
        fragment,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        attribute_filter=_same_site_images_only,
    )


# Tokens that the syntax colours (static/css/site.css) draw in the code's own colour: a span
# around each (a `<span class="p">(</span>` per bracket) changes nothing on screen but made up
# a third of the flagship's HTML (17 KB of 56 KB), which cost a point of Lighthouse's mobile performance
# score through first paint on a slow connection. They are written as plain text.
_PLAIN_TOKENS = frozenset(
    {
        Name,
        Name.Namespace,
        Name.Other,
        Name.Variable,
        Name.Variable.Class,
        Name.Variable.Global,
        Name.Variable.Instance,
        Name.Variable.Magic,
        Operator,
        Punctuation,
        Text.Whitespace,
    }
)


class PlainTokensHtmlFormatter(HtmlFormatter):
    """Pygments' HTML with no span for the tokens drawn in the plain text colour."""

    def format(self, tokensource, outfile):
        plain = ((Text if kind in _PLAIN_TOKENS else kind, value) for kind, value in tokensource)
        return super().format(plain, outfile)


def highlight_python(code: str) -> str:
    return highlight(code, PythonLexer(), PlainTokensHtmlFormatter(nowrap=True))


def render_cell(cell: Cell, result: dict | None = None, run_status: str | None = None) -> str:
    if result is not None:
        state = result["status"]
    else:
        state = {"queued": "queued", "running": "running", "waiting_gpu": "waiting-gpu"}.get(
            run_status, "not-run"
        )
    return render_to_string(
        "answers/cell.html",
        {
            "cell": cell,
            "code_html": highlight_python(cell.code),
            "state": state,
            "result": result,
            "figures": cell_figures(cell, result),
            "output_parts": _output_parts(cell, result),
            "raised_as_expected": _raised_as_expected(cell, result),
        },
    )


def _output_parts(cell: Cell, result: dict | None) -> list[dict]:
    if result is None:
        return []
    return output_parts(result.get("output") or "", result.get("displays") or [], cell.index + 1)


def cell_figures(cell: Cell, result: dict | None) -> list[dict]:
    """Each figure of the cell's result with its alt text and caption.

    The author's `alt=` and `caption=` win; otherwise both name the cell and the figure's own
    title ("Figure 1 drawn by cell 3: Training loss"), or only the cell when the figure has no
    title (or came from a run stored before titles were). Plain text: the template escapes it.
    """
    figures = []
    number = cell.index + 1
    for position, figure in enumerate((result or {}).get("figures", []), start=1):
        title = figure.get("title") or ""
        suffix = f": {title}" if title else ""
        figures.append(
            {
                "url": figure["url"],
                "number": position,
                "alt": cell.options.alt or f"Figure {position} drawn by cell {number}{suffix}",
                "caption": cell.options.caption or f"Figure {position} of cell {number}{suffix}",
            }
        )
    return figures


def _raised_as_expected(cell: Cell, result: dict | None) -> bool:
    """A ``raises=`` cell that passed: its exception is the expected outcome, not an error."""
    return bool(result and result["status"] == "passed" and cell.options.raises and result.get("error"))


def render_badge(provenance: dict | None, cell_count: int, run_status: str | None) -> str:
    if not cell_count:
        return ""
    return render_to_string(
        "answers/provenance.html",
        {
            "provenance": provenance,
            "cell_count": cell_count,
            "cell_numbers": range(1, cell_count + 1),
            "run_status": run_status,
        },
    )


def _replace_cells(source: str, cells: list[Cell], token: str) -> str:
    lines = markdown_lines(source)
    for cell in reversed(cells):
        start, end = cell.span
        lines[start:end] = ["", f"{token}{cell.index}x", ""]
    return "\n".join(lines)


def plain_text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(_TAG.sub(" ", fragment))).strip()


def render_answer(
    source: str,
    *,
    results: dict[int, dict] | None = None,
    provenance: dict | None = None,
    run_status: str | None = None,
) -> RenderedAnswer:
    """Render Markdown; with a finished run's results, each cell shows its real output."""
    results = results or {}
    parsed = parse_answer(source)
    token = f"kbcell{secrets.token_hex(8)}n"
    md = _markdown()
    prose_html = sanitize(md.convert(_replace_cells(source, parsed.cells, token)))
    toc_html = sanitize(md.toc) if getattr(md, "toc_tokens", None) else ""
    text = plain_text(re.sub(rf"{token}\d+x", " ", prose_html))

    cells_by_index = {cell.index: cell for cell in parsed.cells}

    def put_back(match: re.Match) -> str:
        index = int(match.group(1))
        return render_cell(cells_by_index[index], results.get(index), run_status)

    body_html = re.sub(rf"<p>{token}(\d+)x</p>", put_back, prose_html)
    body_html = render_badge(provenance, len(parsed.cells), run_status) + body_html
    return RenderedAnswer(html=body_html, toc_html=toc_html, text=text, parsed=parsed)
