from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from answers.importing import ArticleImportError, articles_import


class Command(BaseCommand):
    help = "Create or update published questions from Markdown files with front matter."
    # bin/run imports right after `migrate`, which has just run the system checks; running them
    # again was a fifth of an import's wall time.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)

    def handle(self, *args, directory: Path, **options):
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory")
        try:
            report = articles_import(directory=directory)
        except ArticleImportError as exc:
            raise CommandError("nothing was imported:\n" + "\n".join(exc.problems)) from exc
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(warning))
        self.stdout.write(
            f"{len(report.created)} created, {len(report.updated)} updated, {len(report.unchanged)} unchanged"
        )
