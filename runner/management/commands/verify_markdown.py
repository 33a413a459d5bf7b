import contextlib
import json

from django.core.management.base import BaseCommand

from runner.engine.forkserver import ForkServer
from runner.engine.twice import SECOND_HASH_SEED
from runner.verification import VERIFIED, verify_markdown_file


class Command(BaseCommand):
    help = (
        "Run the `python run` cells of Markdown files in the sandbox the workers use (no broker "
        "needed) and check their expected outputs. Exits 0 only if every file is verified."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        parser.add_argument(
            "--once",
            action="store_true",
            help="run each file once (default: twice, in two sandboxes with different hash seeds, "
            "as the workers run a new revision, so that a nondeterministic cell is caught)",
        )

    def handle(self, *args, files, **options):
        as_json = options["json"]
        reports = []
        second = None if options["once"] else ForkServer.start(hash_seed=SECOND_HASH_SEED)
        with ForkServer.start() as server, contextlib.ExitStack() as stack:
            if second is not None:
                stack.enter_context(second)
            for path in files:
                if not as_json:
                    self.stdout.write(f"{path}")
                on_result = None if as_json else self._print_cell
                reports.append(
                    verify_markdown_file(path, server=server, on_result=on_result, second_server=second)
                )
                if not as_json:
                    self._print_file(reports[-1])
        if as_json:
            self.stdout.write(json.dumps({"files": [r.to_json() for r in reports]}, indent=2))
        if not all(r.status == VERIFIED for r in reports):
            raise SystemExit(1)

    def _print_cell(self, result):
        style = self.style.SUCCESS if result.status in ("passed", "ran") else self.style.ERROR
        self.stdout.write(
            f"  cell {result.index} (line {result.line}): "
            + style(str(result.status))
            + f" in {result.duration_s:.3f} s"
            + (f", {len(result.figures)} figure(s)" if result.figures else "")
        )
        if result.status == "mismatch":
            from runner.engine.compare import diff

            self.stdout.write(_indent(diff(result.expected or "", result.output)))
        if result.error and result.status not in ("passed", "skipped", "ran"):
            self.stdout.write(_indent(result.error.rstrip()))

    def _print_file(self, report):
        for error in report.errors:
            self.stdout.write(self.style.ERROR(f"  authoring error: line {error.line}: {error.message}"))
        style = self.style.SUCCESS if report.status == VERIFIED else self.style.ERROR
        self.stdout.write(f"  => {style(report.status)}")


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())
