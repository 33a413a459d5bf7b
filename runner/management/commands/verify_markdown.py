r"""`manage.py verify_markdown`: the text report escapes control characters.

A cell's output and traceback are the cell's bytes: printed raw, `\x1b]0;...\x07` retitles the
author's window, `\x1b]52;c;...\x07` writes their clipboard, `\x1b[2J` clears the screen and
`\r` overwrites a line to hide what came before it. Every piece of text the file or its run
supplies is escaped, whether or not stdout is a terminal: a report piped to `tee`, `less -R`
or a CI log reaches a terminal later, and one rule is easier to trust than two. Only our own
colours (Django's style, on a terminal only) stay live. `--json` needs nothing more:
`json.dumps` writes every control character, and every non-ASCII one, as a `\u` escape.
"""

import contextlib
import json
import re
from pathlib import Path

from django.core.management.base import BaseCommand

from runner.engine.cascade import after_failures
from runner.engine.forkserver import ForkServer
from runner.engine.twice import SECOND_HASH_SEED
from runner.junit import junit_xml
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
        parser.add_argument(
            "--junit-xml",
            metavar="PATH",
            help="also write a JUnit XML report there: one testcase per cell, failures with the diff",
        )

    def verify_file(self, path, *, server, on_result, second_server):
        return verify_markdown_file(path, server=server, on_result=on_result, second_server=second_server)

    def handle(self, *args, files, **options):
        as_json = options["json"]
        reports = []
        second = None if options["once"] else ForkServer.start(hash_seed=SECOND_HASH_SEED)
        with ForkServer.start() as server, contextlib.ExitStack() as stack:
            if second is not None:
                stack.enter_context(second)
            for path in files:
                self._statuses = []
                if not as_json:
                    self.stdout.write(printable(path))
                on_result = None if as_json else self._print_cell
                reports.append(
                    self.verify_file(path, server=server, on_result=on_result, second_server=second)
                )
                if not as_json:
                    self._print_file(reports[-1])
        if options["junit_xml"]:
            Path(options["junit_xml"]).write_bytes(junit_xml(reports))
        if as_json:
            self.stdout.write(json.dumps({"files": [r.to_json() for r in reports]}, indent=2))
        if not all(r.status == VERIFIED for r in reports):
            raise SystemExit(1)

    def _print_cell(self, result):
        style = self.style.SUCCESS if result.status in ("passed", "ran") else self.style.ERROR
        self._statuses.append((result.index, result.status))
        after = after_failures(self._statuses).get(result.index)
        self.stdout.write(
            f"  cell {result.index} (line {result.line}): "
            + style(str(result.status))
            + f" in {result.duration_s:.3f} s"
            + (f", {len(result.figures)} figure(s)" if result.figures else "")
            + (f" (after cell {after} failed: fix that one first)" if after is not None else "")
        )
        if result.status == "mismatch":
            from runner.engine.compare import diff

            # Escaped before the diff splits lines, so a "\r" shows as one rather than a break.
            self.stdout.write(_indent(diff(printable(result.expected or ""), printable(result.output))))
        if result.error and result.status not in ("passed", "skipped", "ran"):
            self.stdout.write(_indent(printable(result.error.rstrip())))

    def _print_file(self, report):
        for error in report.errors:
            message = printable(error.message)
            self.stdout.write(self.style.ERROR(f"  authoring error: line {error.line}: {message}"))
        style = self.style.SUCCESS if report.status == VERIFIED else self.style.ERROR
        self.stdout.write(f"  => {style(report.status)}")


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())


# C0 controls but \n and \t, DEL, C1 controls (U+009B is CSI to some terminals) and the bidi
# overrides that make shown text differ from what is there ("Trojan Source").
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\r": "\\r"}


def printable(text: str) -> str:
    """`text` with each unsafe character written as Python would escape it (`\\x1b`, `\\r`)."""
    return _UNSAFE.sub(lambda m: _NAMED.get(m[0]) or _escape(ord(m[0])), text)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
