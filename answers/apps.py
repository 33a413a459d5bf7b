from django.apps import AppConfig


class AnswersConfig(AppConfig):
    name = "answers"

    def ready(self) -> None:
        from runner.signals import run_finished

        run_finished.connect(_on_run_finished, dispatch_uid="answers.refresh_outputs")


def _on_run_finished(sender, run, **kwargs) -> None:
    # Explicit, named signal from runner (not a post_save hook): the page HTML is stored with
    # the outputs in place, so it is rendered again once, when the run ends.
    from .services import answers_refresh_for_run

    answers_refresh_for_run(run_id=run.pk)
