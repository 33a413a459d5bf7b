"""British and American spellings of one word, so that either finds the articles using the other.

Rules rather than a word list: the endings that differ regularly (-isation/-ization,
-ise/-ize, -yse/-yze, -our/-or, -tre/-ter, -logue/-log, a doubled l before -ed/-ing/-er).
A rule that makes a word nobody uses costs nothing: that variant matches no article.
"""

from __future__ import annotations

import re

_RULES = [
    (r"isation(s?)$", r"ization\1"),
    (r"ization(s?)$", r"isation\1"),
    (r"is(e|es|ed|ing|er|ers)$", r"iz\1"),
    (r"iz(e|es|ed|ing|er|ers)$", r"is\1"),
    (r"ys(e|es|ed|ing)$", r"yz\1"),
    (r"yz(e|es|ed|ing)$", r"ys\1"),
    (r"(\w{3,})our(s|ed|ing|ful)?$", r"\1or\2"),
    (r"(\w{3,})or(s|ed|ing|ful)?$", r"\1our\2"),
    (r"(\w{2,})tre(s?)$", r"\1ter\2"),
    (r"(\w{2,})ter(s?)$", r"\1tre\2"),
    (r"(\w{2,})logue(s?)$", r"\1log\2"),
    (r"(\w{2,})log(s?)$", r"\1logue\2"),
    (r"(\w{2,}[aeiou])ll(ed|ing|er|ers)$", r"\1l\2"),
    (r"(\w{2,}[aeiou])l(ed|ing|er|ers)$", r"\1ll\2"),
]
_COMPILED = [(re.compile(pattern), replacement) for pattern, replacement in _RULES]


def spelling_variants(word: str) -> set[str]:
    """The word and its other spellings: "normalisation" -> {normalisation, normalization}."""
    variants = {word}
    if len(word) >= 5:
        for pattern, replacement in _COMPILED:
            variants.add(pattern.sub(replacement, word))
    return variants


def spellings_fold(text: str) -> str:
    """One spelling for comparing queries in Python (the American one)."""
    return " ".join(sorted(spelling_variants(w), key=lambda v: ("z" not in v, v))[0] for w in text.split())
