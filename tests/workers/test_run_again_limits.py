""" "Run again" limits hold under concurrent posts to a live server, and honour the proxy's
client-address header like the demo form."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from answers.models import Answer, Reproduction
from answers.services import answer_save
from kb.models import Question
from kb.services import question_publish
from runner.models import Run
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def published(own_broker, start_worker):
    """A verified, published answer; then the worker stops, so runs-again stay in flight."""
    worker = start_worker("verifier")
    question = Question.objects.create(title="Limits", slug="limits")
    answer_save(question=question, body="```python run\n1 + 1\n```\n\n```output\n2\n```\n")
    question_publish(question=question)
    wait_for(lambda: Answer.objects.get(question=question).published_verified, timeout=60)
    worker.stop()
    yield question
    # Nothing will run what is still queued: end it, so the next test starts clean.
    Run.objects.filter(status__in=["queued", "running"]).update(status="failed")


def _posts(base_url: str, addresses: list[str]) -> list[int]:
    session = requests.Session()
    page = session.get(f"{base_url}/questions/limits/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    def post(address: str) -> int:
        response = requests.post(
            f"{base_url}/questions/limits/run-again/",
            data={"csrfmiddlewaretoken": token},
            cookies=session.cookies,
            headers={"X-Real-IP": address},
            allow_redirects=False,
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=len(addresses)) as pool:
        return list(pool.map(post, addresses))


def test_twenty_concurrent_posts_from_one_address_start_exactly_three_runs(published, live_server, settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    statuses = _posts(live_server.url, ["203.0.113.7"] * 20)
    assert statuses == [302] * 20
    assert Reproduction.objects.count() == 3


def test_twenty_addresses_at_once_put_at_most_four_runs_in_flight(published, live_server, settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"  # each post comes from its own reader
    _posts(live_server.url, [f"198.51.100.{n}" for n in range(1, 21)])
    assert Reproduction.objects.count() == 4
    assert Reproduction.objects.filter(run__status__in=["queued", "running"]).count() == 4
    assert Reproduction.objects.values("client").distinct().count() == 4
