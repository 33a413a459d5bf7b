from django.apps import AppConfig


class ContentHealthConfig(AppConfig):
    name = "content_health"
    verbose_name = "Content health"
