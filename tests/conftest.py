import pytest
from django.utils import timezone

from answers.services import answer_save
from kb.models import Question
from kb.services import question_publish, tags_ensure

# Worker, broker and SMTP fixtures, for every test folder.
pytest_plugins = ["tests.support.workers", "tests.support.brokers", "tests.support.tryit_stores"]

# Prose only: it verifies without a worker (nothing to run), so page tests need no worker.
# Tests of cells and runs use real workers (tests/workers).
FLAGSHIP_BODY = """## Short answer

Deep learning is the family; a convolutional network is one architecture in it.

## Weight sharing

Kernels are reused at every position, so a `Conv2d(3, 16, kernel_size=3)` has 448 parameters.
"""


@pytest.fixture(autouse=True)
def fresh_page_cache():
    """Each test starts with no cached page: the database is new, the shared Redis is not."""
    from kb.page_cache import _bump

    _bump()


@pytest.fixture
def make_question(db):
    def make(
        *,
        title="A question",
        slug=None,
        body=FLAGSHIP_BODY,
        tags=("cnn",),
        published=True,
        summary="A summary.",
        published_at=None,
    ):
        question = Question.objects.create(
            title=title, slug=slug or title.lower().replace(" ", "-")[:60], summary=summary
        )
        question.tags.set(tags_ensure(names=list(tags)))
        answer_save(question=question, body=body)
        if published:
            question_publish(question=question)
            if published_at is not None:
                Question.objects.filter(pk=question.pk).update(published_at=published_at)
        question.refresh_from_db()
        return question

    return make


@pytest.fixture
def flagship(make_question):
    return make_question(
        title="How are deep learning and convolutional neural networks different?",
        slug="deep-learning-vs-cnn",
        tags=("cnn", "deep-learning"),
        published_at=timezone.now(),
    )
