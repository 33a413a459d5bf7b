from django.conf import settings
from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from . import selectors


class PlainTextSummaryAtomFeed(Atom1Feed):
    """Atom with `<summary type="text">`: our summaries are plain text, which Django's Atom1Feed
    would label type="html", so a reader would render a `<` in a summary as markup."""

    def add_item_elements(self, handler, item):
        summary = item.get("description")
        super().add_item_elements(handler, {**item, "description": None})
        if summary is not None:
            handler.addQuickElement("summary", summary, {"type": "text"})


class LatestQuestionsFeed(Feed):
    """Every link is absolute on SITE_URL: Django prefixes a relative one with the request's
    Host, which would put another origin into feed readers and the page cache."""

    feed_type = PlainTextSummaryAtomFeed

    def link(self):
        return f"{settings.SITE_URL}/"

    def feed_url(self):
        return f"{settings.SITE_URL}{reverse('kb:feed')}"

    def item_link(self, item):
        return f"{settings.SITE_URL}{item.get_absolute_url()}"

    def title(self):
        return f"{settings.SITE_NAME}: latest questions"

    def subtitle(self):
        return "Data-science answers whose code is run and checked."

    def items(self):
        return selectors.question_list()[:30]

    def item_title(self, item):
        return item.title

    def item_description(self, item):
        return item.summary

    def item_pubdate(self, item):
        return item.published_at

    def item_updateddate(self, item):
        return item.updated_at

    def item_categories(self, item):
        return [tag.name for tag in item.tags.all()]
