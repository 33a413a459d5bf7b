from django.urls import path

from . import views

app_name = "demo_requests"

urlpatterns = [
    path("", views.demo_request, name="form"),
    path("thanks/", views.thanks, name="thanks"),
]
