from django.urls import path

from . import views

app_name = "feedback"

urlpatterns = [
    path("questions/<slug:slug>/feedback/", views.vote, name="vote"),
    path("questions/<slug:slug>/feedback/why/", views.why, name="why"),
]
