from django.contrib.sitemaps import Sitemap

from .models import Question, Tag


class QuestionSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.8

    def items(self):
        return Question.objects.published().only("slug", "updated_at").order_by("pk")

    def lastmod(self, item):
        return item.updated_at


class TagSitemap(Sitemap):
    changefreq = "weekly"
    priority = 0.4

    def items(self):
        return Tag.objects.filter(questions__status=Question.Status.PUBLISHED).distinct().order_by("pk")
