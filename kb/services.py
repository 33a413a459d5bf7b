"""Writes to the knowledge base's own tables."""

from django.contrib.postgres.search import SearchVector
from django.db import connection
from django.utils import timezone
from django.utils.text import slugify

from .models import Question, Tag
from .page_cache import pages_changed


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


def question_reindex(*, question: Question, document: str) -> None:
    """Store the published answer's text and, on PostgreSQL, the weighted search vector.

    Only what readers can see is indexed: answers.services calls this when it publishes a
    revision, never for a draft or a failing one.
    """
    # PostgreSQL's text-search parser reads "<script>" as markup and drops the words after it,
    # so a "<" in prose (an article about HTML escaping) would hide the rest of the article.
    document = document.replace("<", "< ")
    Question.objects.filter(pk=question.pk).update(search_document=document)
    question_search_refresh(question=question)


def question_search_refresh(*, question: Question) -> None:
    """Recompute the search vector from the stored title, summary and published text."""
    if connection.vendor == "postgresql":
        Question.objects.filter(pk=question.pk).update(
            search_vector=SearchVector("title", weight="A", config="english")
            + SearchVector("summary", weight="B", config="english")
            + SearchVector("search_document", weight="C", config="english")
        )
