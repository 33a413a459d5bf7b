"""What search indexes of a published question: its vocabulary and its code's identifiers.

Identifiers in cells are indexed whole and split on dots, underscores and case, so that
`nn.BatchNorm2d`, `BatchNorm2d`, `batchnorm` and `batch norm` all reach an answer whose code
calls `nn.BatchNorm2d(64)`. They go into the search vector as lexemes of their own (weight D,
below title, summary and prose) without stemming: PostgreSQL's parser would otherwise cut
`running_mean` into two words and lose the whole name.
"""

from __future__ import annotations

import re

from django.db import connection

MAX_WORD_CHARS = 100
MAX_IDENTIFIERS = 2000  # a long notebook's names; more would only slow the index

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_CASE_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+[a-z]*")
_WORD = re.compile(r"[a-z][a-z0-9]{2,}")
_PYTHON_WORDS = frozenset(
    {
        "and",
        "as",
        "assert",
        "async",
        "await",
        "break",
        "class",
        "continue",
        "def",
        "del",
        "elif",
        "else",
        "except",
        "false",
        "finally",
        "for",
        "from",
        "global",
        "if",
        "import",
        "in",
        "is",
        "lambda",
        "none",
        "nonlocal",
        "not",
        "or",
        "pass",
        "raise",
        "return",
        "true",
        "try",
        "while",
        "with",
        "yield",
        "self",
        "print",
    }
)


def identifier_terms(name: str) -> set[str]:
    """`nn.BatchNorm2d` -> nn.batchnorm2d, nn, batchnorm2d, batchnorm, batch, norm, 2d."""
    name = name.strip("._")
    if not name:
        return set()
    terms = {name.lower()}
    for dotted in name.split("."):
        terms.add(dotted.lower())
        pieces = [p for p in dotted.split("_") if p]
        terms.update(p.lower() for p in pieces)
        for piece in pieces:
            parts = _CASE_PARTS.findall(piece)
            terms.update(p.lower() for p in parts)
            letters = [p for p in parts if not p[0].isdigit()]
            if len(letters) > 1:  # "BatchNorm2d" also as "batchnorm": the name without its digits
                terms.add("".join(letters).lower())
    return {t for t in terms if len(t) > 1 and len(t) <= MAX_WORD_CHARS}


def code_identifiers(code: str) -> list[str]:
    """Every identifier in the code, whole and split, without Python's own keywords."""
    terms: set[str] = set()
    for match in _IDENTIFIER.finditer(code):
        if match.group(0).lower() not in _PYTHON_WORDS:
            terms |= identifier_terms(match.group(0))
        if len(terms) > MAX_IDENTIFIERS:
            break
    return sorted(terms - _PYTHON_WORDS)


def vocabulary(*texts: str, identifiers: list[str] = ()) -> set[str]:
    """The words typos are corrected to: prose words of 3+ letters and the code's names."""
    words = set()
    for text in texts:
        words.update(w for w in _WORD.findall(text.lower()) if len(w) <= MAX_WORD_CHARS)
    words.update(t for t in identifiers if _WORD.fullmatch(t))
    return words


def lexemes_add(words: set[str]) -> None:
    """Add a published question's words to the vocabulary (one statement, any number of words)."""
    if not words:
        return
    if connection.vendor == "postgresql":
        sql = (
            "INSERT INTO kb_searchlexeme (word, questions) SELECT w, 1 FROM unnest(%s::text[]) w "
            "ON CONFLICT (word) DO UPDATE SET questions = kb_searchlexeme.questions + 1"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [sorted(words)])
    else:
        from .models import SearchLexeme

        SearchLexeme.objects.bulk_create(
            [SearchLexeme(word=w, questions=1) for w in words], ignore_conflicts=True
        )


# The whole vocabulary again from what is published now (words of retracted articles leave).
# ts_stat counts the questions each token is in, in C; the same words as `vocabulary` are
# kept: a letter, then letters or digits, 3 to 100 characters.
_REBUILD_VOCABULARY = r"""
DELETE FROM kb_searchlexeme;
INSERT INTO kb_searchlexeme (word, questions)
SELECT word, ndoc FROM ts_stat(
    'SELECT to_tsvector(''simple'', title || '' '' || summary || '' '' || search_document '
    || '|| '' '' || search_code) FROM kb_question WHERE status = ''published'''
) WHERE word ~ '^[a-z][a-z0-9]{2,99}$'
"""


def search_rebuild(*, batch: int = 1000) -> dict:
    """Every question's code names, search vectors and the vocabulary, from the published
    revisions: after a deploy that changes what is indexed, or a bulk import."""
    from django.db import transaction

    from answers.cells import parse_answer

    from .models import Question
    from .services import VECTORS_ALL

    counts = {"questions": 0, "with_code": 0, "words": 0}
    published = Question.objects.published().filter(answer__published_revision__isnull=False)
    rows = published.values_list("pk", "answer__published_revision__body").order_by("pk")
    changed = []
    for pk, body in rows.iterator(chunk_size=batch):
        counts["questions"] += 1
        code = "\n".join(c.code for c in parse_answer(body).cells) if "```" in body else ""
        changed.append(Question(pk=pk, search_code=" ".join(code_identifiers(code))))
        counts["with_code"] += bool(code)
        if len(changed) >= batch:
            Question.objects.bulk_update(changed, ["search_code"])
            changed = []
    Question.objects.bulk_update(changed, ["search_code"])
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(VECTORS_ALL)
            cursor.execute(_REBUILD_VOCABULARY)
            cursor.execute("ANALYZE kb_question")
            cursor.execute("ANALYZE kb_searchlexeme")
    else:
        from .models import SearchLexeme

        SearchLexeme.objects.all().delete()
        for question in published.only("title", "summary", "search_document", "search_code").iterator():
            lexemes_add(
                vocabulary(
                    question.title,
                    question.summary,
                    question.search_document,
                    identifiers=question.search_code.split(),
                )
            )
    from .models import SearchLexeme

    counts["words"] = SearchLexeme.objects.count()
    return counts
