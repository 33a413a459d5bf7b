"""Reads for the public pages. Views call these and render; nothing here writes."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Lower
from django.shortcuts import get_object_or_404

from .models import Question, Tag
from .search import SearchResults, search_questions
from .search_suggestions import suggest_titles


def _public() -> QuerySet:
    return Question.objects.published().prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name"))
    )


def question_list() -> QuerySet:
    return _public().defer("search_document", "search_vector").order_by("-published_at", "-pk")


def question_get_published(*, slug: str) -> Question:
    # The page shows the published HTML only: leave the search text, the Markdown and the staff
    # view's HTML (together ~60 KB per view) in the database.
    page_only = (
        _public()
        .select_related("answer")
        .defer(
            "search_document", "search_vector", "answer__body", "answer__rendered_html", "answer__toc_html"
        )
    )
    return get_object_or_404(page_only.annotate(**_neighbour_columns()), slug=slug)


def _neighbour_columns() -> dict:
    """previous_/next_ slug and title: the questions published just before and just after,
    read as subqueries of the page's one query (previous/next links at no extra query)."""
    public = Question.objects.published()
    at, pk = OuterRef("published_at"), OuterRef("pk")
    earlier = public.filter(Q(published_at__lt=at) | Q(published_at=at, pk__lt=pk))
    later = public.filter(Q(published_at__gt=at) | Q(published_at=at, pk__gt=pk))
    earlier, later = earlier.order_by("-published_at", "-pk"), later.order_by("published_at", "pk")
    return {
        "previous_slug": Subquery(earlier.values("slug")[:1]),
        "previous_title": Subquery(earlier.values("title")[:1]),
        "next_slug": Subquery(later.values("slug")[:1]),
        "next_title": Subquery(later.values("title")[:1]),
    }


def questions_related(*, question: Question, limit: int = 4) -> list[Question]:
    tag_ids = [tag.pk for tag in question.tags.all()]
    if not tag_ids:
        return []
    return list(
        Question.objects.published()
        .exclude(pk=question.pk)
        .annotate(shared=Count("tags", filter=Q(tags__in=tag_ids)))
        .filter(shared__gt=0)
        .only("title", "slug", "summary")
        .order_by("-shared", "-published_at")[:limit]
    )


def tag_get(*, slug: str) -> Tag:
    """The tag, with `question_count` (its published questions) counted in the same query."""
    published = Q(questions__status=Question.Status.PUBLISHED)
    return get_object_or_404(
        Tag.objects.annotate(question_count=Count("questions", filter=published)), slug=slug
    )


def tag_questions(*, tag: Tag) -> QuerySet:
    return question_list().filter(tags=tag)


def search(*, query: str, page_number=1, correct: bool = True) -> SearchResults | None:
    return search_questions(
        question_list().defer(None).defer("search_vector", "key_vector", "search_code"),
        query,
        page_number=page_number,
        correct=correct,
    )


# By title as a reader reads a list: case does not count ("How does PCA work?" after "How does a
# receptive field grow?"), whatever the database's collation.
QUESTION_SORTS = {"newest": ("-published_at", "-pk"), "title": (Lower("title"), "pk")}


def question_index(*, sort: str = "newest", tag: Tag | None = None) -> QuerySet:
    """The question index: newest first or by title, optionally only one tag's questions."""
    questions = question_list().order_by(*QUESTION_SORTS.get(sort, QUESTION_SORTS["newest"]))
    return questions.filter(tags=tag) if tag is not None else questions


def tags_with_counts(*, with_published_total: bool = False) -> QuerySet:
    """Every tag that at least one published question carries, with how many do; and, asked
    for, on every row the number of published questions in all (one subquery, evaluated once),
    so the question index needs no count query of its own."""
    published = Q(questions__status=Question.Status.PUBLISHED)
    tags = Tag.objects.annotate(question_count=Count("questions", filter=published))
    if with_published_total:
        total = Question.objects.published().order_by().values("status").annotate(n=Count("pk")).values("n")
        tags = tags.annotate(published_total=Subquery(total))
    return tags.filter(question_count__gt=0).order_by("name")


def question_published_url(*, slug: str) -> str:
    """The article's address, for a published question only (404 otherwise)."""
    return get_object_or_404(Question.objects.published().only("slug"), slug=slug).get_absolute_url()


def search_suggestions(*, query: str) -> list[dict]:
    return suggest_titles(query)
