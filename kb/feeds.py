from django.conf import settings
from django.contrib.syndication.views import Feed
from django.utils.feedgenerator import Atom1Feed

from . import selectors


class LatestQuestionsFeed(Feed):
    feed_type = Atom1Feed
    link = "/"

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
