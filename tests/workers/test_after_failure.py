""" "Failed because an earlier cell failed", through a real worker: the reader's page, the
admin's preview, its run status and the answer's change page."""

import pytest

from answers.models import Answer
from answers.services import answer_save
from kb.models import Question
from kb.services import question_publish
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BODY = """## Loading

```python run
import math
```

```python run
rows = load_rows()
```

```python run
len(rows)
```

```output
3
```

```python run
math.sqrt(16)
```

```output
4.0
```
"""


def test_a_cell_failing_after_an_earlier_failure_says_so_and_the_admin_names_the_first(
    client, cpu_worker, admin_user
):
    question = Question.objects.create(title="Loading rows", slug="loading-rows", allow_unverified=True)
    answer_save(question=question, body=BODY)
    question_publish(question=question)
    answer = wait_for(
        lambda: (a := Answer.objects.select_related("run").get(question=question)).run.is_finished and a,
        timeout=90,
    )
    assert answer.run.status == "failed"

    page = client.get("/questions/loading-rows/").content.decode()
    cell_3 = page[page.index('id="cell-3"') : page.index('id="cell-4"')]
    cell_2 = page[page.index('id="cell-2"') : page.index('id="cell-3"')]
    assert "failed after" in cell_3 and 'href="#cell-2">cell 2</a> failed' in cell_3 and "NameError" in cell_3
    assert "failed after" not in cell_2 and "NameError: name &#x27;load_rows&#x27;" in cell_2
    assert "failed after" not in page[page.index('id="cell-4"') :]  # it passed

    client.force_login(admin_user)
    status = client.get(f"/admin/kb/question/{question.pk}/run-status/").json()
    assert [c["after_failure"] for c in status["cells"]] == [None, None, 1, None]
    assert status["first_failure"]["index"] == 1 and status["first_failure"]["line"] == 7
    change = client.get(f"/admin/kb/question/{question.pk}/change/").content.decode()
    assert (
        "First failure: cell 2 (line 7), Error: NameError: name &#x27;load_rows&#x27; is not defined"
        in change
    )
    preview = client.get(f"/admin/kb/question/{question.pk}/preview/frame/").content.decode()
    assert "fix cell 2 first" in preview
