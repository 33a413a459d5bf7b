"""One answer's caps: cells, code blocks and Markdown size, and a notebook's
size and cells, refused with the limit named in the admin, the notebook import, import_articles
and answer_save, and nothing saved; every seeded article and a notebook at the caps fit."""

import json
import re
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from answers import limits
from answers.importing import split_front_matter
from answers.limits import AnswerTooLarge, answer_size_problem
from answers.models import Answer, Revision
from answers.services import answer_save
from kb.models import Question

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_URL = "/admin/kb/question/import-notebook/"


def cells(count: int) -> str:
    return "".join(f"```python run\nprint({i})\n```\n\n```output\n{i}\n```\n\n" for i in range(count))


def notebook(cell_list: list[dict], title: str = "A big notebook") -> bytes:
    cell_list = [{"cell_type": "markdown", "metadata": {}, "source": f"# {title}"}, *cell_list]
    for number, cell in enumerate(cell_list):
        cell["id"] = f"c{number}"
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cell_list}).encode()


def code(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


def prose(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "pw-Boss-123"))
    return client


def test_every_seeded_article_is_far_inside_the_caps():
    for path in sorted((ROOT / "content").glob("*.md")):
        _, body = split_front_matter(path.read_text())
        assert answer_size_problem(body) is None, path.name
        assert len(body.encode()) < limits.MAX_ANSWER_BYTES / 10
        assert body.count("```python run") < limits.MAX_CELLS / 10


@pytest.mark.parametrize(
    ("markdown", "message"),
    [
        (cells(201), "The answer has 201 runnable cells; an answer may hold at most 200"),
        (
            "".join("```\nx\n```\n\n" for i in range(501)),
            "The answer has 501 code blocks; an answer may hold at most 500",
        ),
        ("word " * (110 * 1024), "an answer may hold at most 524,288 bytes (512 KiB)"),
    ],
    ids=["cells", "code blocks", "bytes"],
)
def test_each_cap_is_refused_with_the_limit_named(markdown, message):
    assert message in answer_size_problem(markdown)


@pytest.mark.django_db
def test_lists_nested_past_the_cap_are_refused_not_a_crash(staff):
    """300 levels made python-markdown raise RecursionError: the save was a 500."""
    assert "Line 3 is nested 51 lists or quotes deep" in answer_size_problem("Intro\n\n" + "- " * 51 + "x\n")
    assert answer_size_problem("".join("    " * i + "- level\n" for i in range(50))) is None
    assert answer_size_problem("```python\n" + "    " * 80 + "- x\n```\n") is None  # code, not a list
    form = {
        "title": "Deep",
        "slug": "deep",
        "summary": "",
        "status": "draft",
        "answer-TOTAL_FORMS": "1",
        "data_files-TOTAL_FORMS": "0",
        "data_files-INITIAL_FORMS": "0",
        "answer-INITIAL_FORMS": "0",
        "answer-MIN_NUM_FORMS": "0",
        "answer-MAX_NUM_FORMS": "1",
        "answer-0-body": "- " * 3000 + "x\n",
    }
    response = staff.post("/admin/kb/question/add/", form)
    assert response.status_code == 200
    assert "nested 3000 lists or quotes deep; an answer may nest them at most 50" in response.content.decode()
    assert not Question.objects.exists()


def test_an_answer_at_the_caps_fits():
    at_caps = cells(200) + "".join(f"```\nshown {i}\n```\n\n" for i in range(100))
    at_caps += "p" * (limits.MAX_ANSWER_BYTES - len(at_caps.encode()))
    assert len(at_caps.encode()) == limits.MAX_ANSWER_BYTES
    assert answer_size_problem(at_caps) is None


def test_the_authoring_guide_states_the_caps_that_apply():
    guide = (ROOT / "docs" / "authoring.md").read_text()
    section = guide.split("## Limits", 1)[1].split("\n## ", 1)[0]
    for figure in (
        f"{limits.MAX_CELLS} `python run` cells",
        f"{limits.MAX_CODE_BLOCKS} fenced blocks",
        f"{limits.MAX_ANSWER_BYTES // 1024} KiB ({limits.MAX_ANSWER_BYTES:,} bytes",
        f"{limits.MAX_NOTEBOOK_BYTES // 2**20} MB ({limits.MAX_NOTEBOOK_BYTES:,} bytes",
        f"{limits.MAX_NOTEBOOK_CELLS:,} cells",
        f"at most {limits.MAX_NESTING} levels",
    ):
        assert figure in section, figure


@pytest.mark.django_db
def test_the_admin_refuses_an_answer_over_the_caps_and_keeps_the_text(staff):
    body = "## Many cells\n\n" + cells(201)
    form = {
        "title": "Too many cells",
        "slug": "too-many-cells",
        "summary": "",
        "status": "draft",
        "answer-TOTAL_FORMS": "1",
        "data_files-TOTAL_FORMS": "0",
        "data_files-INITIAL_FORMS": "0",
        "answer-INITIAL_FORMS": "0",
        "answer-MIN_NUM_FORMS": "0",
        "answer-MAX_NUM_FORMS": "1",
        "answer-0-body": body,
    }
    response = staff.post("/admin/kb/question/add/", form)
    html = response.content.decode()
    assert response.status_code == 200
    assert "The answer has 201 runnable cells; an answer may hold at most 200" in html
    assert "print(200)" in html  # the author's text is still in the form
    assert not Question.objects.exists() and not Answer.objects.exists()


@pytest.mark.django_db
def test_the_answer_admin_refuses_an_edit_over_the_caps(staff, make_question):
    question = make_question(title="Small", slug="small")
    answer = question.answer
    response = staff.post(f"/admin/answers/answer/{answer.pk}/change/", {"body": cells(201)})
    assert response.status_code == 200
    assert "an answer may hold at most 200" in response.content.decode()
    answer.refresh_from_db()
    assert "print(" not in answer.body and Revision.objects.filter(answer=answer).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cell_list", "message"),
    [
        (
            [code(f"print({i})") if i % 2 else prose(f"Step {i}.") for i in range(45_000)],
            "The notebook has 45001 cells; a notebook may have at most 1000 (Markdown cells included)",
        ),
        (
            [code(f"print({i})") for i in range(201)],
            "The notebook has 201 code cells; an answer may hold at most 200",
        ),
        (
            [prose("word " * 20_000) for _ in range(6)],
            "an answer may hold at most 524,288 bytes (512 KiB)",
        ),
    ],
    ids=["45,000 cells", "201 code cells", "600 KB of Markdown"],
)
def test_a_notebook_over_the_caps_is_refused_at_once_and_creates_nothing(staff, cell_list, message):
    upload = SimpleUploadedFile("big.ipynb", notebook(cell_list))
    started = time.monotonic()
    response = staff.post(NOTEBOOK_URL, {"notebook": upload})
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Question.objects.exists()
    assert elapsed < 10, f"refusing took {elapsed:.1f} s"  # it once took 42 s; gunicorn stops at 60


@pytest.mark.django_db
def test_a_notebook_over_5_mb_is_refused_before_it_is_read(staff):
    upload = SimpleUploadedFile("big.ipynb", b" " * (limits.MAX_NOTEBOOK_BYTES + 1))
    html = staff.post(NOTEBOOK_URL, {"notebook": upload}).content.decode()
    assert "The notebook is larger than 5 MB (5,242,881 bytes; at most 5,242,880)" in html


@pytest.mark.django_db
def test_a_notebook_at_the_caps_imports_in_one_short_request(staff):
    cell_list = []
    for i in range(200):
        cell_list += [
            prose(f"## Step {i}\n\nWhy this step matters, in a sentence or two."),
            code(f"x = {i}\nx * 2"),
        ]
    cell_list += [
        prose(f"A closing note {i}.") for i in range(limits.MAX_NOTEBOOK_CELLS - len(cell_list) - 1)
    ]
    started = time.monotonic()
    response = staff.post(
        NOTEBOOK_URL, {"notebook": SimpleUploadedFile("at-caps.ipynb", notebook(cell_list))}
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 302, re.findall(
        r'class="errorlist[^>]*>(.*?)</ul>', response.content.decode()
    )
    assert Question.objects.get().answer.cell_count == 200
    assert elapsed < 20, f"the import took {elapsed:.1f} s"


@pytest.mark.django_db
def test_import_articles_names_the_file_and_the_limit_and_imports_nothing(tmp_path):
    front = "---\ntitle: {title}\nslug: {slug}\n---\n"
    (tmp_path / "fine.md").write_text(front.format(title="Fine", slug="fine") + "Prose.\n")
    (tmp_path / "huge.md").write_text(front.format(title="Huge", slug="huge") + cells(201))
    with pytest.raises(CommandError) as refused:
        call_command("import_articles", str(tmp_path))
    assert "huge.md: The answer has 201 runnable cells; an answer may hold at most 200" in str(refused.value)
    assert not Question.objects.exists()


@pytest.mark.django_db
def test_answer_save_refuses_markdown_over_the_caps(make_question):
    question = make_question(title="Small", slug="small")
    with pytest.raises(AnswerTooLarge, match="at most 200"):
        answer_save(question=question, body=cells(201))
    question.answer.refresh_from_db()
    assert question.answer.revisions.count() == 1
