"""A reader's query made forgiving: typos corrected, spellings and synonyms widened, the last
word a prefix, code names matched whole and split. PostgreSQL only (kb.search uses it).

The query becomes groups, one per word or synonym phrase; every group must match (AND) and
each group is an OR of what the reader may have meant. When no article has every group,
kb.search falls back to the articles that match most of them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from django.db import connection

from .search_index import identifier_terms
from .spellings import spelling_variants, spellings_fold

MAX_WORDS = 10
# Words of comparison: "relu vs sigmoid" is about both, whether or not the article says "versus".
IGNORED = frozenset({"vs", "versus"})
CONFIG = "kb_english"

_TOKEN = re.compile(r'-?"[^"]*"?|\S+')
_IDENTIFIER_LIKE = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+|\w*_\w*|[a-z]+[A-Z]\w*|[A-Z][a-z]+[A-Z]\w*")
_PLAIN = re.compile(r"[a-z0-9]+")


def edit_budget(word: str) -> int:
    """Algolia's rule of thumb: no typo below 4 letters, one from 4, two from 8."""
    return 0 if len(word) < 4 else 1 if len(word) < 8 else 2


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (a swap of two letters is one typo); `limit + 1` once past limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2, previous = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if previous2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def fold(text: str) -> str:
    """Lower case without accents: "Naïve" -> "naive"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass
class Word:
    text: str  # as the reader typed it, folded
    prefix: bool = False  # the last word: what has been typed so far
    corrected: str | None = None
    completions: list[str] = field(default_factory=list)  # the most used vocabulary words it begins
    more_completions: list[str] = field(default_factory=list)  # the others, when there are few
    open_ended: bool = True  # it may begin words not listed: matched as a prefix (":*")

    @property
    def used(self) -> str:
        return self.corrected or self.text


@dataclass
class Group:
    words: list[Word]  # one word, or a synonym's phrase
    phrase: bool = False  # quoted by the reader: exact, never corrected
    synonyms: list[str] = field(default_factory=list)


@dataclass
class ParsedQuery:
    groups: list[Group]
    excluded: list[str]
    alternatives: list[tuple[int, int]]  # (group, group) pairs joined by OR

    @property
    def corrections(self) -> list[Word]:
        return [w for g in self.groups for w in g.words if w.corrected]

    def shown(self) -> str:
        """The query as searched, corrections in place."""
        parts = []
        for group in self.groups:
            words = " ".join(w.used for w in group.words)
            parts.append(f'"{words}"' if group.phrase else words)
        return " ".join(parts + [f"-{w}" for w in self.excluded])


def parse(query: str, *, last_is_prefix: bool = True) -> ParsedQuery:
    groups: list[Group] = []
    excluded: list[str] = []
    alternatives: list[tuple[int, int]] = []
    join_next = False
    for token in _TOKEN.findall(query)[: MAX_WORDS * 2]:
        if token == "OR" and groups:  # noqa: S105 (the word OR, not a secret)
            join_next = True
            continue
        if token.startswith("-") and len(token) > 1:
            excluded.extend(w for w in _plain_words(token[1:]))
            continue
        if token.startswith('"'):
            words = [Word(w) for w in _plain_words(token)]
            if words:
                groups.append(Group(words, phrase=True))
        else:
            text = token.strip(".,;:!?()[]{}'\"")
            if _IDENTIFIER_LIKE.fullmatch(text):
                groups.append(Group([Word(text.rstrip("()"))]))
            else:
                words = [w for w in _plain_words(text) if w not in IGNORED]
                groups.extend(Group([Word(w)]) for w in words)
        if join_next and len(groups) >= 2:
            alternatives.append((len(groups) - 2, len(groups) - 1))
        join_next = False
    groups = groups[:MAX_WORDS]
    if last_is_prefix and groups and not groups[-1].phrase and query[-1:].strip():
        groups[-1].words[-1].prefix = True
    return ParsedQuery(groups=groups, excluded=excluded[:MAX_WORDS], alternatives=alternatives)


def _plain_words(text: str) -> list[str]:
    return _PLAIN.findall(fold(text))


# The synonym rows by each of their terms' words (spellings folded), for the rows last given:
# the table is kept per process (kb.search_synonyms), so is this.
_by_term_of: tuple[list, dict] | None = None


def _synonyms_by_term(synonym_rows: list[list[str]]) -> dict[tuple, list[str]]:
    global _by_term_of
    if _by_term_of is None or _by_term_of[0] is not synonym_rows:
        by_term = {}
        for terms in synonym_rows:
            for term in terms:
                by_term[tuple(spellings_fold(fold(term)).split())] = terms
        _by_term_of = (synonym_rows, by_term)
    return _by_term_of[1]


def apply_synonyms(parsed: ParsedQuery, synonym_rows: list[list[str]]) -> None:
    """Join the words that form a synonym's term into one group that also accepts the others."""
    by_term = _synonyms_by_term(synonym_rows)
    longest = max((len(k) for k in by_term), default=0)
    folded = [spellings_fold(g.words[0].text) for g in parsed.groups]
    groups, i = [], 0
    while i < len(parsed.groups):
        for size in range(min(longest, len(parsed.groups) - i), 0, -1):
            window = parsed.groups[i : i + size]
            if any(g.phrase or len(g.words) != 1 for g in window):
                continue
            key = tuple(folded[i : i + size])
            if key in by_term:
                terms = [t for t in by_term[key] if tuple(spellings_fold(fold(t)).split()) != key]
                groups.append(Group([g.words[0] for g in window], synonyms=terms))
                i += size
                break
        else:
            groups.append(parsed.groups[i])
            i += 1
    if len(groups) != len(parsed.groups):
        parsed.alternatives = []  # positions moved; OR between synonym phrases is not kept
    parsed.groups = groups


MAX_COMPLETIONS = 8
# Up to this many words a prefix begins are listed (matched exactly) rather than matched as a
# prefix; the most used MAX_COMPLETIONS of them also bring their synonyms.
COMPLETIONS_LISTED = 32
MIN_PREFIX = 3
_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"  # what a typo may insert or replace

# The vocabulary in one round trip: the most used words the last word begins (what it was typed
# so far: a btree varchar_pattern_ops index; the stem of "poolin" is not a prefix of the stem of
# "pooling", so the words themselves are searched), and candidates for the words it lacks.
# A word is lacking when none of its spellings is known and, typed last, it begins no word.
# Its candidates: words sharing trigrams with it when it has 8+ letters (the GIN gin_trgm_ops
# index), and every string one deletion, swap, replacement or insertion away, made here and
# looked up by key (a short word shares too few trigrams with its typo: "feild" and "field"
# share two of ten). The edit budget is checked in Python on these few. JIT is off: compiling
# this statement would cost more (30 to 500 ms) than running it.
_VOCABULARY = """
SET LOCAL jit = off;
SET LOCAL pg_trgm.similarity_threshold = 0.3;
WITH typed AS (
    SELECT * FROM unnest(%(words)s::text[], %(may_complete)s::bool[], %(long)s::bool[])
        AS t(w, may_complete, long)
), completions AS MATERIALIZED (
    SELECT word, questions FROM kb_searchlexeme WHERE word LIKE %(pattern)s
    ORDER BY questions DESC, word LIMIT %(limit)s
), known AS MATERIALIZED (
    SELECT DISTINCT v.w FROM unnest(%(variant_of)s::text[], %(variants)s::text[]) v(w, variant)
    JOIN kb_searchlexeme l ON l.word = v.variant
), lacking AS MATERIALIZED (
    SELECT w, long FROM typed WHERE w NOT IN (SELECT w FROM known)
        AND NOT (may_complete AND EXISTS (SELECT FROM completions))
), letters AS (SELECT unnest(%(letters)s::text[]) AS c),
-- positions in a word: a constant series (filtered) rather than generate_series(0, length(w)),
-- whose unknown size the planner takes for 1,000 rows, the edits then for millions
positions AS (SELECT i FROM generate_series(0, %(longest)s) i)
SELECT NULL, word, questions FROM completions
UNION ALL
SELECT u.w, s.word, s.questions FROM lacking u CROSS JOIN LATERAL (
    SELECT word, questions FROM kb_searchlexeme WHERE u.long AND word %% u.w
    ORDER BY similarity(word, u.w) DESC, questions DESC LIMIT 20
) s
UNION ALL
SELECT u.w, l.word, l.questions FROM lacking u CROSS JOIN LATERAL (
    SELECT left(u.w, i) || substr(u.w, i + 2) FROM positions WHERE i < length(u.w)
    UNION SELECT left(u.w, i) || substr(u.w, i + 2, 1) || substr(u.w, i + 1, 1) || substr(u.w, i + 3)
        FROM positions WHERE i < length(u.w) - 1
    UNION SELECT left(u.w, i) || c || substr(u.w, i + 2) FROM positions, letters WHERE i < length(u.w)
    UNION SELECT left(u.w, i) || c || substr(u.w, i + 1) FROM positions, letters WHERE i <= length(u.w)
) e(candidate)
JOIN kb_searchlexeme l ON l.word = e.candidate
"""


def last_rows(cursor) -> list[tuple]:
    """The rows of the last statement a cursor sent (the ones before it are planner settings)."""
    while cursor.cursor.nextset():
        pass
    return cursor.fetchall()


def _prefix_word(parsed: ParsedQuery) -> Word | None:
    """The last word when it is typed so far and long enough to complete from the vocabulary."""
    last = parsed.groups[-1].words[-1] if parsed.groups else None
    if last is None or not last.prefix or len(last.text) < MIN_PREFIX or not _PLAIN.fullmatch(last.text):
        return None
    return last


def _checkable(parsed: ParsedQuery) -> list[Word]:
    """The words a typo may be corrected in: not quoted, no synonym's, plain, 4+ letters."""
    words = [w for g in parsed.groups if not g.phrase and not g.synonyms for w in g.words]
    return [w for w in words if edit_budget(w.text) and _PLAIN.fullmatch(w.text)]


def lookup_vocabulary(parsed: ParsedQuery, *, correct: bool) -> dict[str, list[tuple[str, int]]]:
    """The last word's completions (set on it), and with `correct` the candidates (word,
    questions) of each word the vocabulary lacks, by the word as typed."""
    last = _prefix_word(parsed)
    checkable = _checkable(parsed) if correct else []
    if last is None and not checkable:
        return {}
    may_complete = {}
    for word in checkable:  # a word typed twice is completed only if its first use is the last word
        may_complete.setdefault(word.text, word is last)
    words = list(may_complete)
    variants = [(w, v) for w in words for v in sorted(spelling_variants(w))]
    params = {
        "words": words,
        "may_complete": [may_complete[w] for w in words],
        "long": [edit_budget(w) > 1 for w in words],
        "pattern": f"{last.text}%" if last else None,  # letters and digits only: nothing to escape
        "limit": COMPLETIONS_LISTED + 1,
        "variant_of": [w for w, _ in variants],
        "variants": [v for _, v in variants],
        "letters": list(_LETTERS),
        "longest": max(map(len, words), default=0),
    }
    with connection.cursor() as cursor:
        cursor.execute(_VOCABULARY, params)
        rows = last_rows(cursor)
    candidates: dict[str, list[tuple[str, int]]] = {}
    completions = []
    for typed, word, questions in rows:
        if typed is None:
            completions.append((-questions, word))
        else:
            candidates.setdefault(typed, []).append((word, questions))
    if last is not None:
        words = [w for _, w in sorted(completions)]
        last.open_ended = not words or len(words) > COMPLETIONS_LISTED
        last.completions = words[:MAX_COMPLETIONS]
        last.more_completions = [] if last.open_ended else words[MAX_COMPLETIONS:]
    return candidates


def correct_typos(parsed: ParsedQuery, candidates: dict[str, list[tuple[str, int]]]) -> None:
    """Replace each word the knowledge base never uses by its nearest candidate within budget."""
    checkable = _checkable(parsed)
    prefix_of = {w.text: w.prefix for w in checkable}
    best: dict[str, tuple[int, int, str]] = {}
    for typed, found in candidates.items():
        if typed not in prefix_of:
            continue
        budget = edit_budget(typed)
        for candidate, questions in found:
            distance = edit_distance(typed, candidate, budget)
            if prefix_of[typed] and distance > budget and len(candidate) > len(typed):
                # a prefix with a typo ("convolutio" is fine, "convlutio" is one typo from a prefix)
                distance = edit_distance(typed, candidate[: len(typed)], budget)
            if distance <= budget:
                key = (distance, -questions, candidate)
                if typed not in best or key < best[typed]:
                    best[typed] = key
    for word in checkable:
        if word.text in best:
            word.corrected = best[word.text][2]


def _lexeme(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def word_alternatives(word: Word) -> tuple[list[str], list[str]]:
    """(English words to stem, exact code lexemes) the word may stand for."""
    text = word.used
    if not _PLAIN.fullmatch(text):  # a code name as typed: whole, or all of its parts
        # Parts only where code is (weight D): "running" and "mean" in prose are no API name.
        parts = " & ".join(
            f"{_lexeme(t)}:D" for t in sorted(identifier_terms(text) - {text.lower()}) if "." not in t
        )
        exact = [_lexeme(text.lower())] + ([f"({parts})"] if parts else [])
        return [], exact
    # A word typed so far matches the words it begins: through ":*", a partial match for which
    # the GIN index collects every posting of every lexeme it begins (15 to 25 ms for a common
    # word at 100,000 questions), or, when the vocabulary has at most COMPLETIONS_LISTED such
    # words, through those words alone (exact lexemes: the index skips through their postings).
    suffix = ":*" if word.prefix and word.open_ended else ""
    completions = word.completions + word.more_completions
    english = [f"{v}{suffix}" for v in sorted(spelling_variants(text))] + completions
    return english, [f"{_lexeme(text)}{suffix}"]


@dataclass
class Plan:
    parsed: ParsedQuery
    groups: list[str]  # each group's tsquery text
    excluded: str  # "!'a' & !'b'" or ""

    def tsquery(self, *, any_group: bool = False) -> str:
        joined = (" | " if any_group else " & ").join(f"({g})" for g in self.groups)
        return f"({joined}) & {self.excluded}" if self.excluded else joined


def _word_sql(word: Word, params: list) -> str:
    english, exact = word_alternatives(word)
    parts = []
    for text in english:
        params.append(text)
        parts.append(f"to_tsquery('{CONFIG}', %s)")
    for lexeme in exact:
        params.append(lexeme)
        parts.append("%s::tsquery")
    return "(" + " || ".join(parts) + ")"


def _group_sql(group: Group, params: list) -> str:
    if group.phrase:
        params.append(" <-> ".join(w.text for w in group.words))
        return f"to_tsquery('{CONFIG}', %s)"
    own = " && ".join(_word_sql(w, params) for w in group.words)
    alternatives = [f"({own})"]
    for term in group.synonyms:
        words = [Word(w) for w in _plain_words(term)]
        if words:
            alternatives.append("(" + " && ".join(_word_sql(w, params) for w in words) + ")")
    return " || ".join(alternatives)


def _english_only_sql(group: Group, params: list) -> str:
    """The group without its code lexemes: empty when it is only stop words ("the", "how")."""
    words = [w for w in group.words if _PLAIN.fullmatch(w.used)]
    if len(words) < len(group.words) or group.synonyms:
        return "'keep'::tsquery"
    params.append(" & ".join(w.used for w in words))
    return f"to_tsquery('{CONFIG}', %s)"


def _completion_synonyms(parsed: ParsedQuery, synonym_rows: list[list[str]]) -> None:
    """ "batchn" completes to "batchnorm", a synonym of "batch normalisation": find that too."""
    last = parsed.groups[-1] if parsed.groups else None
    if last is None or last.synonyms or not last.words[-1].completions:
        return
    for terms in synonym_rows:
        if set(terms) & set(last.words[-1].completions):
            last.synonyms += [t for t in terms if t not in last.words[-1].completions]


# What PostgreSQL makes of each group's words (stems, stop words dropped, accents folded) depends
# only on the words and the text-search configuration, which only a migration changes: each
# process keeps the texts it has asked for, so a group already seen costs no round trip.
TSQUERY_TEXTS_KEPT = 10_000
_tsquery_texts: dict[tuple, str] = {}


def tsquery_texts(expressions: list[tuple[str, list]]) -> list[str]:
    """Each (SQL expression, its parameters) as tsquery text; one round trip for the new ones."""
    keys = [(sql, tuple(params)) for sql, params in expressions]
    missing = list(dict.fromkeys(k for k in keys if k not in _tsquery_texts))
    if missing:
        params = [p for _, key_params in missing for p in key_params]
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(f"({sql})::text" for sql, _ in missing), params)
            row = cursor.fetchone()
        if len(_tsquery_texts) + len(missing) > TSQUERY_TEXTS_KEPT:
            _tsquery_texts.clear()
        found = dict(zip(missing, row, strict=True))
        _tsquery_texts.update(found)
    else:
        found = {}
    return [found[k] if k in found else _tsquery_texts[k] for k in keys]


def _expression(build, *args) -> tuple[str, list]:
    params: list = []
    return build(*args, params), params


def _excluded_sql(word: str, params: list) -> str:
    params.append(word)
    return f"!! to_tsquery('{CONFIG}', %s)"


def plan(query: str, *, synonym_rows: list[list[str]], correct: bool = True) -> Plan | None:
    """The query's groups as tsquery texts (at most two round trips), or None when nothing is left."""
    parsed = parse(query)
    apply_synonyms(parsed, synonym_rows)
    candidates = lookup_vocabulary(parsed, correct=correct)
    _completion_synonyms(parsed, synonym_rows)
    if correct:
        correct_typos(parsed, candidates)
    expressions = []
    for group in parsed.groups:
        expressions.append(_expression(_group_sql, group))
        expressions.append(_expression(_english_only_sql, group))
    expressions += [_expression(_excluded_sql, word) for word in parsed.excluded]
    if not expressions:
        return None
    row = tsquery_texts(expressions)
    texts = [row[2 * i] if row[2 * i] and row[2 * i + 1] else "" for i in range(len(parsed.groups))]
    for left, right in parsed.alternatives:  # "a OR b": one group that either satisfies
        if texts[left] and texts[right]:
            texts[left], texts[right] = f"({texts[left]}) | ({texts[right]})", ""
            parsed.groups[left].words += parsed.groups[right].words
    kept = [(g, t) for g, t in zip(parsed.groups, texts, strict=True) if t]
    parsed.groups = [g for g, _ in kept]
    excluded = [t for t in row[2 * len(texts) :] if t]
    if not kept:
        return None
    return Plan(parsed=parsed, groups=[t for _, t in kept], excluded=" & ".join(excluded))
