"""Data files with an answer, through a real worker: read in the sandbox, part of the key."""

from pathlib import Path

import pytest
from django.core.management import call_command

from answers.models import Answer
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ARTICLE = """---
title: Counting names
slug: counting-names
tags: [data]
summary: {summary}
---
The names are in `names.txt`, beside the answer.

```python run
words = open("names.txt").read().split()
print(len(words), words[0])
```

```output
{expected}
```
"""


def _write(folder: Path, *, names: str, expected: str, summary: str = "Reads a data file.") -> None:
    (folder / "files" / "counting-names").mkdir(parents=True, exist_ok=True)
    (folder / "files" / "counting-names" / "names.txt").write_text(names)
    (folder / "a.md").write_text(ARTICLE.format(expected=expected, summary=summary))


def _finished_run():
    answer = Answer.objects.select_related("run").get(question__slug="counting-names")
    return answer.run if answer.run and answer.run.is_finished else None


def test_an_imported_answer_reads_its_file_and_a_changed_file_runs_it_again(client, cpu_worker, tmp_path):
    _write(tmp_path, names="emma olivia ava", expected="3 emma")
    call_command("import_articles", str(tmp_path))
    first = wait_for(_finished_run, timeout=90)
    assert first.status == "verified", list(first.results.values("status", "output", "error"))
    assert first.files[0]["name"] == "names.txt" and first.sandbox["data_files"]["count"] == 1
    page = client.get("/questions/counting-names/").content.decode()
    assert "3 emma" in page and "<strong>Verified</strong>" in page

    # A prose edit keeps the execution key: nothing runs again.
    (tmp_path / "a.md").write_text(ARTICLE.format(expected="3 emma", summary="Reads names."))
    call_command("import_articles", str(tmp_path))
    assert _finished_run().pk == first.pk

    # The same Markdown with another file is another key: a new run, with the new content.
    _write(tmp_path, names="noah liam", expected="3 emma", summary="Reads names.")
    call_command("import_articles", str(tmp_path))
    second = wait_for(lambda: (run := _finished_run()) and run.pk != first.pk and run, timeout=90)
    assert second.key != first.key and second.status == "failed"
    assert second.results.get().output == "2 noah\n"
