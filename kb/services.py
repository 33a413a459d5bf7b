"""Writes to the knowledge base's own tables."""

from django.db import connection
from django.utils import timezone
from django.utils.text import slugify

from .models import Question, Tag
from .page_cache import pages_changed
from .search_index import code_identifiers, lexemes_add, vocabulary


def tags_ensure(*, names: list[str]) -> list[Tag]:
    tags = []
    for name in names:
        clean = " ".join(str(name).split()).lower()
        if not clean:
            continue
        tag, _ = Tag.objects.get_or_create(slug=slugify(clean)[:60], defaults={"name": clean[:60]})
        tags.append(tag)
    return tags


def question_publish(*, question: Question) -> None:
    if question.status != Question.Status.PUBLISHED:
        question.status = Question.Status.PUBLISHED
    if question.published_at is None:
        question.published_at = timezone.now()
    if question.owner_id is None and question.author_id and question.author.is_staff:
        question.owner = question.author  # every published answer has someone who reviews it
    question.save(update_fields=["status", "published_at", "owner", "updated_at"])
    question_search_refresh(question=question)  # the title or summary may have changed with it
    pages_changed()


def question_reindex(*, question: Question, document: str, code: str = "") -> None:
    """Store the published answer's text and code names and, on PostgreSQL, the search vectors.

    Only what readers can see is indexed: answers.services calls this when it publishes a
    revision, never for a draft or a failing one. The revision's words join the vocabulary
    that typos are corrected against.
    """
    # PostgreSQL's text-search parser reads "<script>" as markup and drops the words after it,
    # so a "<" in prose (an article about HTML escaping) would hide the rest of the article.
    document = document.replace("<", "< ")
    identifiers = code_identifiers(code)
    Question.objects.filter(pk=question.pk).update(
        search_document=document, search_code=" ".join(identifiers)
    )
    question_search_refresh(question=question)
    lexemes_add(vocabulary(document, identifiers=identifiers))


# Title A, summary B, prose C (English stems), code names D (whole, unstemmed). The key
# vector (all but the prose) finds title, summary and code matches however many articles
# mention a word in passing.
_VECTORS = """
UPDATE kb_question SET
    key_vector = setweight(to_tsvector('kb_english', title), 'A')
        || setweight(to_tsvector('kb_english', summary), 'B')
        || setweight(array_to_tsvector(string_to_array(search_code, ' ')), 'D'),
    search_vector = setweight(to_tsvector('kb_english', title), 'A')
        || setweight(to_tsvector('kb_english', summary), 'B')
        || setweight(to_tsvector('kb_english', search_document), 'C')
        || setweight(array_to_tsvector(string_to_array(search_code, ' ')), 'D')
"""
VECTORS_ALL = _VECTORS
_VECTORS += "WHERE id = %s"


def question_search_refresh(*, question: Question) -> None:
    """Recompute the search vectors from the stored title, summary, published text and code."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_VECTORS, [question.pk])
    title, summary = Question.objects.filter(pk=question.pk).values_list("title", "summary").get()
    lexemes_add(vocabulary(title, summary))
