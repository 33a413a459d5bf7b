"""`manage.py verify_notebook`: a notebook's code cells against the outputs Jupyter stored.

The same sandbox, double run, report, `--json` and `--junit-xml` as verify_markdown (whose
command this extends): the notebook is read as "Start from a notebook" imports it with its
stored outputs kept, so what passes here passes after the import.
"""

from runner.verification import verify_notebook_file

from .verify_markdown import Command as VerifyMarkdownCommand


class Command(VerifyMarkdownCommand):
    help = (
        "Run the code cells of Jupyter notebooks in the sandbox the workers use (no broker needed) "
        "and check them against the notebooks' stored outputs: stdout and the last value's text as "
        "expected output, nbval's NBVAL_* markers and the raises-exception tag as options. "
        "Exits 0 only if every notebook is verified."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--figures",
            action="store_true",
            help="also compare each cell's figures with the images stored in the notebook (Jupyter "
            "draws at its own size and dpi, so only a notebook saved from this site's export matches)",
        )

    def verify_file(self, path, *, server, on_result, second_server):
        return verify_notebook_file(
            path,
            server=server,
            on_result=on_result,
            second_server=second_server,
            figures=self._figures,
        )

    def handle(self, *args, **options):
        self._figures = options["figures"]
        return super().handle(*args, **options)
