""" "Start from a notebook" never answers 500 and never changes cell boundaries."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kb.models import Question

pytestmark = pytest.mark.django_db

URL = "/admin/kb/question/import-notebook/"


@pytest.fixture
def admin_client_(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", "pw-Boss-123"))
    return client


def _code(source, kb=None):
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
    if kb is not None:
        cell["metadata"]["kb"] = kb
    return cell


def _markdown(source):
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def _upload(*cells, title="# A notebook"):
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [_markdown(title), *cells],
    }
    for number, cell in enumerate(notebook["cells"]):
        cell["id"] = f"cell-{number}"
    return SimpleUploadedFile("n.ipynb", json.dumps(notebook).encode())


@pytest.mark.parametrize(
    ("cells", "title", "message"),
    [
        ([_code("1", kb="options")], "# T", "metadata.kb must be an object"),
        ([_code("1", kb=[1])], "# T", "metadata.kb must be an object"),
        ([_code("1", kb={"options": ["timeout", 5]})], "# T", "kb.options must be an object"),
        ([_code("1", kb={"expected": 2})], "# T", "kb.expected must be text"),
        ([_code("1", kb={"options": {"device": "cpu\n\nInjected prose"}})], "# T", "is not a plain value"),
        ([_code("1", kb={"options": {"raises": "X `"}})], "# T", "is not a plain value"),
        ([_code("1", kb={"options": {"timeout": [1]}})], "# T", "wrong type"),
        ([_markdown("Prose a\u0000b")], "# T", "NUL character"),
        ([_code("print('a')\u0000")], "# T", "NUL character"),
        ([_code("1", kb={"expected": "1\u0000"})], "# T", "NUL character"),
        ([_code("1")], "# Title \u0000", "NUL character"),
        ([_code("1")], "# " + "x" * 250, "a title has at most 200"),
        (
            [_markdown("```python run\nprint('extra')\n```"), _code("1")],
            "# T",
            "would become 2 runnable cells",
        ),
        ([_markdown("```python\nunclosed"), _code("1")], "# T", "would become 0 runnable cells"),
        ([_code("a = 1\rb = 2")], "# T", "Cell 2, line 1: a carriage return (\\r) not followed by a newline"),
    ],
)
def test_bad_notebooks_get_a_clear_form_error_and_create_nothing(admin_client_, cells, title, message):
    response = admin_client_.post(URL, {"notebook": _upload(*cells, title=title)})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Question.objects.exists()


def test_an_existing_slug_is_a_form_error(admin_client_):
    Question.objects.create(title="Taken", slug="taken")
    response = admin_client_.post(URL, {"notebook": _upload(_code("1")), "slug": "taken"})
    assert response.status_code == 200 and "slug exists already" in response.content.decode()
    assert Question.objects.count() == 1


def test_code_cells_holding_fence_lines_stay_exactly_the_same_cells(admin_client_):
    sources = [
        "text = '''\n   ```\nnot a fence end\n```python run\n'''\nprint(text)",
        "s = '````'\n  ````\n",
        "print('third')",
    ]
    cells = [
        _code(sources[0]),
        _code(sources[1].rstrip("\n")),
        _code(sources[2], kb={"expected": "```\nthird"}),
    ]
    response = admin_client_.post(URL, {"notebook": _upload(*cells)})
    assert response.status_code == 302, response.content.decode()[-3000:]
    from answers.cells import parse_answer

    parsed = parse_answer(Question.objects.get().answer.body)
    assert [c.code for c in parsed.cells] == [sources[0], sources[1].rstrip("\n"), sources[2]]
    assert parsed.cells[2].expected.rstrip("\n") == "```\nthird" and not parsed.errors


def test_stored_outputs_holding_carriage_returns_and_separators_import_with_the_form_choices(admin_client_):
    cell = _code("print('\\r10%\\r100%')\ns = 'a\u2028b\x0cc'")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "\r10%\r100%\n"}]
    response = admin_client_.post(URL, {"notebook": _upload(cell), "keep_outputs": "on"})
    assert response.status_code == 302, response.content.decode()[-3000:]
    question = Question.objects.get()
    assert response["Location"] == f"/admin/kb/question/{question.pk}/notebook-review/"
    from answers.cells import parse_answer

    (parsed,) = parse_answer(question.answer.body).cells
    assert parsed.code == cell["source"] and parsed.expected == "100%"
    Question.objects.all().delete()
    response = admin_client_.post(URL, {"notebook": _upload(cell)})  # the box left unticked
    assert parse_answer(Question.objects.get().answer.body).cells[0].expected is None
