from django.apps import AppConfig


class KbConfig(AppConfig):
    name = "kb"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        from . import search_synonyms  # noqa: F401  (saving a synonym refreshes every process's copy)
