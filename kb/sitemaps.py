"""The sitemap: Django's sitemap view and Sitemap classes, with each page's XML written here.

At 10,000 questions Django's own `get_urls` and its `sitemap.xml` template (a dict, a model
instance, a `reverse()` and ~10 template nodes per URL, then `{% spaceless %}` over the whole
page) took ~0.8 s for a page-cache miss, which every publish causes. Here the items
are (slug, lastmod) rows, each URL is one f-string, and `get_urls` returns the page's XML as
one safe string that kb/sitemap.xml prints: the bytes are those of Django's template.

Every <loc> starts with SITE_URL, never the request's Host: Django's view
would build the origin from `get_current_site(request)`, so a request with another Host that
ALLOWED_HOSTS lets through (or a proxy that forwards it) would publish, and cache, a sitemap
pointing search engines at that origin.
"""

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from .models import Question, Tag

_SLUG = "slug-placeholder"


class _FastSitemap(Sitemap):
    """Items are (slug, lastmod or None) rows, read once per request: Django's view reads
    items() for the page, for its count and for the latest lastmod. Up to `limit` (50,000) URLs
    a page, the protocol's maximum; more become ?p=2 pages (Django's paginator, as before)."""

    url_name: str

    def queryset(self):
        raise NotImplementedError

    def items(self):
        if not hasattr(self, "_fetched_items"):
            self._fetched_items = list(self.queryset())
        return self._fetched_items

    def get_urls(self, page=1, site=None, protocol=None):
        prefix = settings.SITE_URL  # not site/protocol: those come from the request
        path = reverse(self.url_name, args=[_SLUG])
        tail = f"<changefreq>{self.changefreq}</changefreq><priority>{self.priority}</priority></url>"
        parts, latest, every_lastmod = [], None, True
        for slug, lastmod in self.paginator.page(page).object_list:
            loc = escape(prefix + path.replace(_SLUG, slug))
            if lastmod is None:
                every_lastmod = False
                parts.append(f"<url><loc>{loc}</loc>{tail}")
                continue
            latest = lastmod if latest is None or lastmod > latest else latest
            day = timezone.localtime(lastmod)  # as the template's date filter shows it
            parts.append(f"<url><loc>{loc}</loc><lastmod>{day:%Y-%m-%d}</lastmod>{tail}")
        if every_lastmod and latest is not None:
            self.latest_lastmod = latest  # Django's view sends it as Last-Modified
        return [mark_safe("".join(parts))]  # noqa: S308 (escaped above; our own tags only)


class QuestionSitemap(_FastSitemap):
    changefreq = "weekly"
    priority = 0.8
    url_name = "kb:question"

    def queryset(self):
        return Question.objects.published().order_by("pk").values_list("slug", "updated_at")


class TagSitemap(_FastSitemap):
    changefreq = "weekly"
    priority = 0.4
    url_name = "kb:tag"

    def queryset(self):
        published = Tag.objects.filter(questions__status=Question.Status.PUBLISHED)
        return ((slug, None) for slug in published.distinct().order_by("pk").values_list("slug", flat=True))
