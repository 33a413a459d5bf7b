"""Running a draft's cells from the answer editor, through the site and the real `try` worker:
each cell's output compared with its expected output, "Use as expected output" and the
absorbing option written into the draft, and nothing of one author's run readable by another."""

import time

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from answers.cells import parse_answer
from answers.datafiles import data_files_set
from answers.models import Answer
from kb.models import Question

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

RUN = "/admin/kb/question/editor/run/"
DRAFT = """Three cells.

```python run
total = 6 * 7
print("total is", total)
```

```python run
total / 7
```

```output
6.0000001
```

```python run
import numpy as np
print(np.arange(3) * total)
```
"""


def _staff(django_user_model, name: str) -> Client:
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw-Author-123", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="kb", codename="change_question")
    )
    client = Client()
    client.force_login(user)
    return client


def _finished(client: Client, url: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = client.get(url).json()
        if result["done"]:
            return result
        time.sleep(0.05)
    raise AssertionError(f"the run at {url} did not finish in {timeout} s")


def _run(client: Client, body: str, cell: int, scope: str = "cell", **extra) -> dict:
    started = client.post(RUN, {"body": body, "cell": str(cell), "scope": scope, **extra})
    assert started.status_code == 202, started.content
    return started.json()


def test_run_all_above_shows_each_cell_and_compares_the_expected_output(try_worker, django_user_model):
    author = _staff(django_user_model, "author")
    started = _run(author, DRAFT, 3, scope="above")
    result = _finished(author, started["resultUrl"])
    cells = {c["number"]: c for c in result["cells"]}
    assert sorted(cells) == [1, 2, 3]
    assert cells[1]["stdout"] == "total is 42" and cells[1]["expected"] is None
    assert cells[1]["can_use_output"] is True and cells[1]["compared"] is None
    assert cells[3]["stdout"] == "[ 0 42 84]" and cells[3]["status"] == "ran"
    # 6.0 against an expected 6.0000001: differs in the last digits, so tol= absorbs it.
    assert cells[2]["stdout"] == "6.0" and cells[2]["compared"] == "differs"
    assert {"op": "removed", "text": "6.0000001"} in cells[2]["diff"]
    assert {"op": "added", "text": "6.0"} in cells[2]["diff"]
    assert cells[2]["suggestion"]["label"].startswith("Add tol=")

    absorbed = author.post(
        started["resultUrl"] + "apply/", {"body": DRAFT, "cell": "2", "action": "suggestion"}
    ).json()["body"]
    assert parse_answer(absorbed).cells[1].options.tol is not None
    used = author.post(started["resultUrl"] + "apply/", {"body": DRAFT, "cell": "2", "action": "use_output"})
    assert parse_answer(used.json()["body"]).cells[1].expected == "6.0"
    first = author.post(started["resultUrl"] + "apply/", {"body": DRAFT, "cell": "1", "action": "use_output"})
    written = parse_answer(first.json()["body"])
    assert written.cells[0].expected == "total is 42" and not written.errors
    # Nothing was saved or published by any of it.
    assert not Answer.objects.exists()


def test_run_one_cell_shows_that_cell_and_a_failure_before_it(try_worker, django_user_model):
    author = _staff(django_user_model, "author")
    only = _finished(author, _run(author, DRAFT, 3)["resultUrl"])
    assert [c["number"] for c in only["cells"]] == [3]
    broken = DRAFT.replace("total = 6 * 7", "total = 6 * seven")
    failed = _finished(author, _run(author, broken, 3)["resultUrl"])
    by_number = {c["number"]: c for c in failed["cells"]}
    assert by_number[1]["status"] == "error" and "NameError" in by_number[1]["error"]
    assert by_number[3]["status"] == "prefix_failed" and by_number[3]["label"] == "Not run"
    assert by_number[3]["can_use_output"] is False


def test_an_error_and_a_figure_are_shown_with_their_detail(try_worker, django_user_model):
    author = _staff(django_user_model, "author")
    body = (
        "```python run\nimport matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3])\nplt.title('Rising')\nplt.show()\n```\n\n"
        "```python run\n1 / 0\n```\n"
    )
    figure = _finished(author, _run(author, body, 1)["resultUrl"])["cells"][0]
    assert figure["figures"][0]["title"] == "Rising"
    assert figure["figures"][0]["src"].startswith("data:image/png;base64,iVBOR")
    error = _finished(author, _run(author, body, 2)["resultUrl"])["cells"][0]
    assert error["status"] == "error" and "ZeroDivisionError" in error["error"]
    assert error["can_use_output"] is False


def test_a_run_is_its_authors_only_and_a_changed_cell_is_not_written(try_worker, django_user_model):
    author, other = _staff(django_user_model, "author"), _staff(django_user_model, "other")
    url = _run(author, DRAFT, 1)["resultUrl"]
    _finished(author, url)
    assert other.get(url).status_code == 404
    assert other.post(url + "apply/", {"body": DRAFT, "cell": "1", "action": "use_output"}).status_code == 404
    changed = DRAFT.replace('print("total is", total)', 'print("total:", total)')
    refused = author.post(url + "apply/", {"body": changed, "cell": "1", "action": "use_output"})
    assert refused.status_code == 409 and "changed since it ran" in refused.json()["error"]
    assert author.post(url + "apply/", {"body": DRAFT, "cell": "1", "action": "junk"}).status_code == 400


def test_junk_requests_get_clear_errors(django_user_model):
    author = _staff(django_user_model, "author")
    cases = [
        ({"body": DRAFT, "cell": "9"}, 404, "no runnable cell 9"),
        ({"body": DRAFT, "cell": "x"}, 400, "Say which cell"),
        ({"body": DRAFT, "cell": "1", "scope": "everything"}, 400, "Unknown run scope"),
        ({"body": "```python run timeout=nope\n1\n```\n", "cell": "1"}, 400, "Fix the authoring problem"),
        ({"body": "x" * 2_000_000, "cell": "1"}, 413, "at most"),
    ]
    for data, status, words in cases:
        response = author.post(RUN, data)
        assert response.status_code == status, (data, response.content)
        assert words in response.json()["error"]
    assert author.get(RUN + "not-a-token!/").status_code == 404


def test_the_questions_data_files_are_in_the_run(try_worker, django_user_model):
    author = _staff(django_user_model, "author")
    question = Question.objects.create(title="With data", slug="with-data")
    data_files_set(question=question, files={"numbers.csv": b"a\n1\n2\n"})
    body = "```python run\nprint(open('numbers.csv').read().split())\n```\n"
    done = _finished(author, _run(author, body, 1, question=str(question.pk))["resultUrl"])
    assert done["cells"][0]["stdout"] == "['a', '1', '2']"


def test_a_store_that_does_not_answer_is_a_503_not_a_crash(django_user_model, settings):
    author = _staff(django_user_model, "author")
    settings.TRYIT_STORE_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    started = author.post(RUN, {"body": DRAFT, "cell": "1"})
    assert started.status_code == 503 and started["Retry-After"] == "30"
    assert "cannot be reached" in started.json()["error"]
    reading = author.get(RUN + "A" * 32 + "/")
    assert reading.status_code == 503 and "cannot be reached" in reading.json()["error"]
