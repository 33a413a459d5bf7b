"""JUnit XML of verify_markdown / verify_notebook reports, for CI systems that read it.

One <testsuite> per file and one <testcase> per cell (named by its number and line, its class
the file's path); a cell that neither passed nor ran is a <failure> whose text is the diff of
expected and actual output, or the error; a skipped cell is <skipped>; a file's authoring
errors (or a notebook the import refuses) are one failing testcase named "authoring". Pure."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from runner.engine.compare import diff
from runner.engine.protocol import OK_STATUSES

# XML 1.0 cannot hold most C0 controls, even escaped: a cell's output may, so they are shown.
_NOT_XML = {code: f"\\x{code:02x}" for code in range(0x20) if code not in (0x09, 0x0A, 0x0D)}
_NOT_XML |= {0xFFFE: "\\ufffe", 0xFFFF: "\\uffff"}


def _xml_text(text: str) -> str:
    return text.translate(_NOT_XML)


def _cell_name(result, notebook_cell: int | None) -> str:
    where = f"notebook cell {notebook_cell}" if notebook_cell else f"line {result.line}"
    return f"cell {result.index + 1} ({where})"


def _failure_text(result) -> str:
    parts = []
    if result.status == "mismatch" and result.expected is not None:
        parts.append(diff(result.expected, result.output))
    if result.error:
        parts.append(result.error.rstrip())
    return "\n\n".join(parts) or str(result.status)


def junit_xml(reports) -> bytes:
    suites = ET.Element("testsuites")
    for report in reports:
        suite = ET.SubElement(suites, "testsuite", name=_xml_text(report.path))
        failures = skipped = 0
        if report.errors:
            case = ET.SubElement(suite, "testcase", name="authoring", classname=_xml_text(report.path))
            failure = ET.SubElement(case, "failure", message="authoring errors", type="authoring")
            failure.text = _xml_text("\n".join(f"line {e.line}: {e.message}" for e in report.errors))
            failures += 1
        total_s = 0.0
        for result in report.cells:
            notebook_cells = report.notebook_cells or []
            number = notebook_cells[result.index] if result.index < len(notebook_cells) else None
            case = ET.SubElement(
                suite,
                "testcase",
                name=_cell_name(result, number),
                classname=_xml_text(report.path),
                time=f"{result.duration_s:.3f}",
            )
            total_s += result.duration_s
            if result.status == "skipped":
                ET.SubElement(case, "skipped", message=_xml_text((result.error or "not run")[:500]))
                skipped += 1
            elif result.status not in OK_STATUSES:
                failure = ET.SubElement(case, "failure", message=str(result.status), type=str(result.status))
                failure.text = _xml_text(_failure_text(result))
                failures += 1
        suite.set("tests", str(len(report.cells) + (1 if report.errors else 0)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", str(skipped))
        suite.set("time", f"{total_s:.3f}")
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)
