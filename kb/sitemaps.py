from django.contrib.sitemaps import Sitemap

from .models import Question, Tag


class _ItemsOnce(Sitemap):
    """Django's sitemap view reads items() for the page, for its count and for the latest
    lastmod: one query for all three (issue 9). A sitemap class is instantiated per request.
    Up to `limit` (50,000) URLs a page, the protocol's maximum; more become ?p=2 pages."""

    def items(self):
        if not hasattr(self, "_fetched_items"):
            self._fetched_items = list(self.queryset())
        return self._fetched_items


class QuestionSitemap(_ItemsOnce):
    changefreq = "weekly"
    priority = 0.8

    def queryset(self):
        return Question.objects.published().only("slug", "updated_at").order_by("pk")

    def lastmod(self, item):
        return item.updated_at


class TagSitemap(_ItemsOnce):
    changefreq = "weekly"
    priority = 0.4

    def queryset(self):
        return Tag.objects.filter(questions__status=Question.Status.PUBLISHED).distinct().order_by("pk")
