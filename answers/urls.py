from django.urls import path

from . import views

app_name = "answers"

urlpatterns = [
    path("questions/<slug:slug>/run-again/", views.run_again, name="run_again"),
    path("questions/<slug:slug>/reproductions/<int:pk>/", views.reproduction_detail, name="reproduction"),
    path(
        "questions/<slug:slug>/reproductions/<int:pk>/status/",
        views.reproduction_status,
        name="reproduction_status",
    ),
    path("questions/<slug:slug>/notebook.ipynb", views.notebook_download, name="notebook"),
]
