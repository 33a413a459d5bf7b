"""Heading ids for the table of contents and section permalinks.

Python-Markdown's default slugify drops every non-ASCII character, so "The learnable γ and β"
became ``#the-learnable-and``. Greek letters, which these articles use for
parameters, are spelled out (γ -> gamma) so links stay readable when pasted as ASCII; any other
letter (é, ü, 中) is kept as the Unicode letter it is. The toc extension makes repeated ids
unique (``-1``, ``-2``).
"""

from __future__ import annotations

import unicodedata

from markdown.extensions.toc import slugify_unicode

_NAMES = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma"
_NAMES += " sigma tau upsilon phi chi psi omega"
# U+03B1..U+03C9 in order (ς, final sigma, sits between ρ and σ).
_GREEK_NAMES = dict(
    zip(
        (chr(code) for code in range(0x03B1, 0x03CA)),
        _NAMES.split(),
        strict=True,
    )
)


_SYMBOLS = {"×": "x", "→": " to ", "≈": " approx ", "≤": " le ", "≥": " ge "}


def _spell_out(text: str) -> str:
    spelled = []
    for char in unicodedata.normalize("NFC", text):
        name = _GREEK_NAMES.get(char.lower())
        spelled.append(f" {name} " if name else _SYMBOLS.get(char, char))
    return "".join(spelled)


def heading_slug(value: str, separator: str) -> str:
    return slugify_unicode(_spell_out(value), separator).strip(separator)
