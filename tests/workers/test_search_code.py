"""An answer's code names are searchable once it is published through a real run."""

import pytest
from django.core.management import call_command

from answers.models import Answer
from answers.services import answer_save
from kb.models import Question, SearchLexeme
from kb.services import question_publish
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BODY = """## Freezing the statistics

In evaluation the layer stops updating what it has seen.

```python run
import torch
from torch import nn
bn = nn.BatchNorm2d(4)
model = nn.Sequential(bn)
model.eval()
bn.running_mean.shape
```
"""


def _titles(client, query):
    html = client.get("/search/", {"q": query}).content.decode()
    return [p.split(">", 1)[1].split("</a>")[0] for p in html.split('class="question-card__title"><a ')[1:]]


def test_cell_identifiers_are_found_after_publishing_and_after_a_rebuild(client, cpu_worker):
    question = Question.objects.create(title="Freezing statistics", slug="freezing")
    answer_save(question=question, body=BODY)
    question_publish(question=question)
    answer = wait_for(
        lambda: Answer.objects.filter(question=question, run__finished_at__isnull=False).first()
    )
    assert answer.published_verified, answer.run.status
    queries = ["nn.BatchNorm2d", "BatchNorm2d", "batchnorm", "batchn", "running_mean", "model.eval()"]
    for query in queries:
        assert _titles(client, query) == ["Freezing statistics"], query
    # The vocabulary has the code's words, so a typo in an API name is corrected too.
    assert SearchLexeme.objects.filter(word="batchnorm").exists()
    html = client.get("/search/", {"q": "bacthnorm"}).content.decode()
    assert "Freezing statistics" in html and "<em>batchnorm</em>" in html
    # A rebuild from the published revisions gives the same index.
    SearchLexeme.objects.all().delete()
    Question.objects.update(search_code="", search_vector=None, key_vector=None)
    call_command("search_reindex", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _titles(client, "running_mean") == ["Freezing statistics"]
    assert _titles(client, "Freezing") == ["Freezing statistics"]
    assert SearchLexeme.objects.filter(word="batchnorm", questions=1).exists()
