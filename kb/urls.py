from django.urls import path

from . import views
from .feeds import LatestQuestionsFeed
from .page_cache import reader_cached

app_name = "kb"

urlpatterns = [
    path("", views.question_list, name="question_list"),
    path("questions/<slug:slug>/", views.question_detail, name="question"),
    path("tags/<slug:slug>/", views.tag_detail, name="tag"),
    path("search/", views.search, name="search"),
    path("feed/", reader_cached(LatestQuestionsFeed()), name="feed"),
    path("privacy/", views.privacy, name="privacy"),
]
