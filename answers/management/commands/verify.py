import time

from django.core.management.base import BaseCommand, CommandError

from answers.models import Answer
from answers.services import answer_verify
from runner import results as runner_results

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Queue runs of answers' cells on the worker pool; with --wait, show progress until done."

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", help="Question slugs whose answers to verify.")
        parser.add_argument("--all", action="store_true", help="Every answer that has cells.")
        parser.add_argument("--wait", action="store_true", help="Wait and show progress.")
        parser.add_argument("--force", action="store_true", help="Run even when a cached run exists.")
        parser.add_argument("--timeout", type=float, default=900, help="Seconds to wait at most.")

    def handle(self, *args, slugs, all, wait, force, timeout, **options):
        if bool(slugs) == bool(all):
            raise CommandError("Give question slugs or --all (not both).")
        answers = Answer.objects.select_related("question").filter(cell_count__gt=0)
        if slugs:
            answers = answers.filter(question__slug__in=slugs)
            missing = set(slugs) - set(answers.values_list("question__slug", flat=True))
            if missing:
                raise CommandError(f"No answer with cells for: {', '.join(sorted(missing))}")
        runs = {}
        for answer in answers.order_by("question__slug"):
            if answer.authoring_errors:
                self.stderr.write(f"{answer.question.slug}: authoring errors, not run")
                continue
            answer = answer_verify(answer=answer, force=force)
            runs[answer.question.slug] = answer.run_id
            self.stdout.write(f"{answer.question.slug}: run #{answer.run_id} ({answer.run.status})")
        if not wait:
            return
        if not self._wait(runs, timeout):
            raise CommandError("Some answers did not verify.")

    def _wait(self, runs: dict[str, int], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        shown: dict[str, str] = {}
        while True:
            finished = True
            for slug, run_id in runs.items():
                run = runner_results.run_get(run_id=run_id)
                line = self._progress_line(slug, run)
                if shown.get(slug) != line:
                    self.stdout.write(line)
                    shown[slug] = line
                finished &= run.is_finished
            if finished:
                break
            if time.monotonic() > deadline:
                self.stderr.write("Timed out waiting for the worker pool.")
                return False
            time.sleep(0.2)
        results = {slug: runner_results.run_get(run_id=run_id).status for slug, run_id in runs.items()}
        verified = sum(status == "verified" for status in results.values())
        self.stdout.write(f"{verified} of {len(results)} verified")
        return verified == len(results)

    @staticmethod
    def _progress_line(slug: str, run) -> str:
        total = max(run.cell_count, 1)
        filled = round(BAR_WIDTH * run.cells_done / total)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        return f"{slug:40.40} [{bar}] {run.cells_done}/{run.cell_count} {run.get_status_display()}"
