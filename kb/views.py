from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_safe

from . import selectors
from .page_cache import reader_cached
from .search_report import record_open, record_search
from .structured_data import question_structured_data

PAGE_SIZE = 20


@require_safe
@reader_cached(params=("page",))
def question_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.question_list(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "kb/question_list.html", {"page": page})


@require_safe
@reader_cached(params=("page", "sort", "tag"))
def question_index(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort", "newest")
    if sort not in selectors.QUESTION_SORTS:
        sort = "newest"
    tags = list(selectors.tags_with_counts(with_published_total=True))
    tag = next((t for t in tags if t.slug == request.GET.get("tag")), None)
    paginator = Paginator(selectors.question_index(sort=sort, tag=tag), PAGE_SIZE)
    if tags:  # the count is known already: no COUNT query (3 queries on a miss, not 4)
        paginator.count = tag.question_count if tag else tags[0].published_total
    page = paginator.get_page(request.GET.get("page"))
    context = {"page": page, "sort": sort, "tag": tag, "tags": tags}
    return render(request, "kb/question_index.html", context)


@require_safe
@reader_cached
def tag_index(request: HttpRequest) -> HttpResponse:
    return render(request, "kb/tag_index.html", {"tags": selectors.tags_with_counts()})


@require_safe
def feed_about(request: HttpRequest) -> HttpResponse:
    return render(request, "kb/feed_about.html")


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    # Browsers ask for /favicon.ico whatever the page says: send them to the static file (not
    # permanently: in production the static name carries a hash that changes with the file).
    return HttpResponseRedirect(static("favicon.ico"))


@require_safe
@reader_cached
def question_detail(request: HttpRequest, slug: str) -> HttpResponse:
    question = selectors.question_get_published(slug=slug)
    context = {
        "question": question,
        "answer": getattr(question, "answer", None),
        "related": selectors.questions_related(question=question),
        "structured_data": question_structured_data(question=question),
    }
    return render(request, "kb/question_detail.html", context)


@require_safe
@reader_cached(params=("page",))
def tag_detail(request: HttpRequest, slug: str) -> HttpResponse:
    tag = selectors.tag_get(slug=slug)
    paginator = Paginator(selectors.tag_questions(tag=tag), PAGE_SIZE)
    paginator.count = tag.question_count  # counted with the tag: one query fewer
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "kb/tag_detail.html", {"tag": tag, "page": page})


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    page_number = request.GET.get("page")
    corrected = request.GET.get("exact") != "1"
    results = selectors.search(query=query, page_number=page_number, correct=corrected)
    if results is not None and not page_number:  # the next pages are the same search, not another
        record_search(query=query, results=results.total)
    context = {"query": query, "results": results, "exact": not corrected}
    return render(request, "kb/search.html", context)


@require_safe
@never_cache
def search_open(request: HttpRequest) -> HttpResponse:
    """A search result opened: counted for the search report, then on to the article.

    Result links point here rather than carrying a parameter into the article's URL, so the
    article pages stay cached as they are. Only published questions are redirected to, by
    slug, so this is no open redirect and reveals no draft.
    """
    url = selectors.question_published_url(slug=request.GET.get("to", "")[:200])
    record_open(query=request.GET.get("q", ""))
    return HttpResponseRedirect(url)


@require_safe
def search_suggestions(request: HttpRequest) -> JsonResponse:
    """Up to 8 published titles for what has been typed so far (the last word a prefix)."""
    suggestions = selectors.search_suggestions(query=request.GET.get("q", ""))
    response = JsonResponse({"suggestions": suggestions})
    response["Cache-Control"] = "public, max-age=60"
    return response


@require_safe
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "kb/privacy.html", {"contact_email": settings.PRIVACY_CONTACT_EMAIL})


@require_safe
@cache_control(max_age=86400, public=True)
def robots_txt(request: HttpRequest) -> HttpResponse:
    lines = [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /search/",
        f"Sitemap: {settings.SITE_URL}/sitemap.xml",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")
