from django.urls import path

from . import try_views, views

app_name = "answers"

urlpatterns = [
    path("questions/<slug:slug>/run-again/", views.run_again, name="run_again"),
    path("questions/<slug:slug>/reproductions/<int:pk>/", views.reproduction_detail, name="reproduction"),
    path(
        "questions/<slug:slug>/reproductions/<int:pk>/status/",
        views.reproduction_status,
        name="reproduction_status",
    ),
    path("questions/<slug:slug>/cells/<int:number>/try/", try_views.try_start, name="try_start"),
    path("try/<str:token>/", try_views.try_result, name="try_result"),
    path("try/<str:token>/status", try_views.try_status, name="try_status"),
    path("questions/<slug:slug>/notebook.ipynb", views.notebook_download, name="notebook"),
]
