from django.apps import AppConfig


class DemoRequestsConfig(AppConfig):
    name = "demo_requests"
    verbose_name = "Demo requests"
