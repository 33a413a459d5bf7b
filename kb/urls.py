from django.urls import path

from . import views
from .feeds import LatestQuestionsFeed
from .page_cache import reader_cached

app_name = "kb"

urlpatterns = [
    path("", views.question_list, name="question_list"),
    path("questions/", views.question_index, name="question_index"),
    path("questions/<slug:slug>/", views.question_detail, name="question"),
    path("tags/", views.tag_index, name="tag_index"),
    path("tags/<slug:slug>/", views.tag_detail, name="tag"),
    path("search/", views.search, name="search"),
    path("search/open/", views.search_open, name="search_open"),
    path("search/suggestions/", views.search_suggestions, name="search_suggestions"),
    path("feed/", reader_cached(LatestQuestionsFeed()), name="feed"),
    path("feed/about/", views.feed_about, name="feed_about"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("privacy/", views.privacy, name="privacy"),
]
