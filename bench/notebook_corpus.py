#!/usr/bin/env python
"""The team's notebook corpus (bench/corpus/) through "Start from a notebook", beside nbclient
and nbval.

Run from the repository root:

    .venv/bin/python bench/notebook_corpus.py [--json FILE] [NOTEBOOK...]

For each notebook (default: every bench/corpus/*.ipynb):

1. the admin import's own code path, answers.notebooks.notebook_to_markdown: imported, or
   refused with its reason; the notebook's data files come from bench/corpus/files/<stem>/,
   as the import form would take them;
2. the imported answer's cells run in one sandboxed child of a fork server, as a worker runs
   them (runner.engine.forkserver), with those files;
3. the notebook run by nbclient in a fresh python3 kernel (allow_errors, 60 s per cell);
4. nbval (`pytest --nbval`, JUnit XML) on the stored outputs.

It prints per notebook and in total: imported or refused (with each reason), code cells, the
cells that ran cleanly under nbclient and how many of those also ran cleanly in the product
(the goal: >= 95 %), each product failure's cell and first error line, and for the cells with a
stored text output that ran in both, how often the product's verdict (its own comparison,
runner.engine.compare.matches, of the stored text with its output) agrees with nbval's.
Needs requirements-bench.txt (nbclient, ipykernel, nbval).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "bench" / "corpus"
OK = ("passed", "ran")


def stored_text(cell) -> str | None:
    """The cell's stored text output as nbval compares it: stdout streams and text/plain."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            parts.append(output.get("text", ""))
        elif output.get("output_type") in ("execute_result", "display_data"):
            text = output.get("data", {}).get("text/plain")
            if text is not None and output.get("output_type") == "execute_result":
                parts.append(text if isinstance(text, str) else "".join(text))
    return "".join(parts) if parts else None


def code_cells(notebook) -> list:
    return [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]


def run_product(markdown: str, files: dict[str, bytes], server) -> list:
    from answers.cells import parse_answer

    parsed = parse_answer(markdown)
    results, _ = server.run_answer(parsed.cells, files=files).wait()
    return results


def run_nbclient(notebook, workdir: Path) -> list[bool]:
    """Per non-empty code cell: ran without an error output under nbclient."""
    import copy

    from nbclient import NotebookClient

    fresh = copy.deepcopy(notebook)
    client = NotebookClient(fresh, timeout=60, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(workdir)}})  # fmt: skip
    client.execute()
    return [not any(o.get("output_type") == "error" for o in c.outputs) for c in code_cells(fresh)]


def run_nbval(path: Path, workdir: Path) -> dict[int, bool]:
    """{index among all code cells: passed} from nbval's JUnit report."""
    report = workdir / "nbval.xml"
    # Without pytest-django: this is Jupyter's world, not the project's test settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO")}
    subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-p", "no:django", "-q",
         "-o", "addopts=",
         f"--junitxml={report}", "--rootdir", str(workdir), str(workdir / path.name)],
        cwd=workdir, capture_output=True, text=True, timeout=900, check=False, env=env,
    )  # fmt: skip
    verdicts = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            name = case.get("name", "")
            if "Cell " in name:
                number = int(name.rsplit("Cell ", 1)[1].split()[0])
                verdicts[number] = not any(child.tag in ("failure", "error") for child in case)
    return verdicts


def measure(path: Path, server) -> dict:
    import nbformat

    from answers.notebooks import NotebookError, notebook_to_markdown
    from runner.engine.compare import matches

    raw = path.read_bytes()
    folder = CORPUS / "files" / path.stem
    files = {f.name: f.read_bytes() for f in sorted(folder.iterdir())} if folder.is_dir() else {}
    notebook = nbformat.reads(raw.decode(), as_version=4)
    all_code = [c for c in notebook.cells if c.cell_type == "code"]
    cells = code_cells(notebook)
    entry = {"notebook": path.name, "code_cells": len(cells)}
    try:
        _, markdown = notebook_to_markdown(raw)
    except NotebookError as exc:
        entry["refused"] = str(exc)
        return entry
    with tempfile.TemporaryDirectory(prefix="kb-corpus-") as tmp:
        workdir = Path(tmp)
        (workdir / path.name).write_bytes(raw)
        for name, data in files.items():
            (workdir / name).write_bytes(data)
        product = run_product(markdown, files, server)
        nbclient_ok = run_nbclient(notebook, workdir)
        nbval = run_nbval(path, workdir)
    product_ok = [r.status in OK for r in product]
    both = [i for i, ok in enumerate(nbclient_ok) if ok]
    entry.update(
        nbclient_ok=len(both),
        product_ok=sum(product_ok),
        product_ok_of_nbclient_ok=sum(product_ok[i] for i in both),
        failures=[
            {"cell": i, "status": str(r.status), "error": (r.error or "").strip().splitlines()[-1:]}
            for i, r in enumerate(product)
            if i in both and not product_ok[i]
        ],
    )
    agree = compared = 0
    disagreements = []
    for i, cell in enumerate(cells):
        expected = stored_text(cell)
        number = all_code.index(cell)
        if expected is None or number not in nbval or not (product_ok[i] and nbclient_ok[i]):
            continue
        compared += 1
        ours = matches(expected, product[i].output)
        if ours == nbval[number]:
            agree += 1
        else:
            disagreements.append({"cell": i, "product": ours, "nbval": nbval[number],
                                  "stored": expected[:80], "output": product[i].output[:80]})  # fmt: skip
    entry.update(verdicts_compared=compared, verdicts_agree=agree, disagreements=disagreements)
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    from runner.engine.forkserver import ForkServer

    paths = args.notebooks or sorted(CORPUS.glob("*.ipynb"))
    entries = []
    with ForkServer.start() as server:
        for path in paths:
            entry = measure(path, server)
            entries.append(entry)
            if "refused" in entry:
                print(f"{path.name}: REFUSED: {entry['refused']}")
                continue
            print(
                f"{path.name}: imported, {entry['code_cells']} code cells; nbclient ran "
                f"{entry['nbclient_ok']}, the product ran {entry['product_ok_of_nbclient_ok']} of those; "
                f"verdicts agree {entry['verdicts_agree']}/{entry['verdicts_compared']}"
            )
            for failure in entry["failures"]:
                why = " ".join(failure["error"])[:120]
                print(f"    product cell {failure['cell']}: {failure['status']} {why}")
            for d in entry["disagreements"]:
                print(f"    verdict cell {d['cell']}: product {d['product']}, nbval {d['nbval']}: "
                      f"stored {d['stored']!r} output {d['output']!r}")  # fmt: skip
    imported = [e for e in entries if "refused" not in e]
    nb_ok = sum(e["nbclient_ok"] for e in imported)
    both = sum(e["product_ok_of_nbclient_ok"] for e in imported)
    compared = sum(e["verdicts_compared"] for e in imported)
    agree = sum(e["verdicts_agree"] for e in imported)
    print(f"\nnotebooks: {len(entries)}, imported {len(imported)}, refused {len(entries) - len(imported)}")
    print(f"code cells: {sum(e['code_cells'] for e in entries)}; ran under nbclient: {nb_ok}; "
          f"of those, ran in the product: {both} ({100 * both / max(nb_ok, 1):.1f} %)")  # fmt: skip
    print(f"stored-output verdicts compared: {compared}; agree with nbval: {agree} "
          f"({100 * agree / max(compared, 1):.1f} %)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(entries, indent=2))


if __name__ == "__main__":
    main()
