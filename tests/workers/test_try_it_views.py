""" "Edit and run" through the site: real PostgreSQL, Redis, a verifying worker and the `try`
queue's worker. Junk posts get clear 4xx answers; a run's result is this browser's only."""

import re
import time

import pytest
from django.test import Client

from answers import tryit_limits as limits
from answers.models import Answer
from answers.services import answer_save
from kb.models import Question
from kb.services import question_publish
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BODY = "```python run\nx = 20\nprint('ready')\n```\n\n```python run\nx * 2\n```\n\n```output\n40\n```\n"


@pytest.fixture
def answer(cpu_worker):
    question = Question.objects.create(title="Try", slug="try")
    answer_save(question=question, body=BODY)
    question_publish(question=question)
    wait_for(lambda: Answer.objects.get(question=question).published_verified, timeout=90)
    return Answer.objects.get(question=question)


@pytest.fixture
def reader():
    """A browser: its own CSRF cookie, taken from the answer page like a reader's."""
    browser = Client(enforce_csrf_checks=True, REMOTE_ADDR=f"198.51.100.{time.monotonic_ns() % 250}")
    yield browser
    limits.bucket_reset(client=limits.client_hash(address=browser.defaults["REMOTE_ADDR"]))


def token_of(browser: Client) -> str:
    page = browser.get("/questions/try/").content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def post(browser: Client, number: int, code: str | None, json: bool = False, slug: str = "try"):
    data = {"csrfmiddlewaretoken": token_of(browser)}
    if code is not None:
        data["code"] = code
    headers = {"HTTP_ACCEPT": "application/json"} if json else {}
    return browser.post(f"/questions/{slug}/cells/{number}/try/", data, **headers)


def test_every_runnable_cell_has_an_edit_and_run_form_with_its_code(answer, reader):
    page = reader.get("/questions/try/").content.decode()
    assert page.count("<summary>Edit and run</summary>") == 2
    assert 'action="/questions/try/cells/2/try/"' in page
    assert re.search(r"<textarea[^>]*name=\"code\"[^>]*>\nx \* 2</textarea>", page)
    assert len(set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page))) == 1


def test_junk_posts_get_clear_errors(answer, reader):
    assert reader.get("/questions/try/cells/2/try/").status_code == 405
    missing = post(reader, 2, None)
    assert missing.status_code == 400 and b"no code to run" in missing.content
    big = post(reader, 2, "x" * 20_001)
    assert big.status_code == 413 and b"at most 20,000" in big.content
    assert post(reader, 9, "1").status_code == 404
    assert post(reader, 2, "1", slug="no-such-answer").status_code == 404
    assert post(reader, 2, "a\x00b", json=True).json()["status"] == 400
    csrf = reader.post("/questions/try/cells/2/try/", {"code": "1"})
    assert csrf.status_code == 403


def test_an_unpublished_answer_cannot_be_run(answer, reader):
    Question.objects.filter(pk=answer.question_id).update(status="draft")
    assert post(reader, 2, "1", slug="try").status_code == 404


def test_no_js_post_redirects_to_a_result_page_that_shows_the_run(answer, try_worker, reader):
    response = post(reader, 2, "print(x + 1)")
    assert response.status_code == 303
    url = response["Location"]
    assert response["Cache-Control"].count("no-store") == 1

    def done():
        page = reader.get(url)
        return b'http-equiv="refresh"' not in page.content and page

    page = wait_for(done, timeout=60)
    text = page.content.decode()
    assert "Ran without error." in text
    article = text[text.find("<article") : text.find("</article>")]
    assert "<code>21</code>" in article, article
    assert "<code>40</code>" in text  # the verified output beside it
    assert "diff-line--added" in text and "+ 21" in text
    assert "no-store" in page["Cache-Control"]


def test_a_result_is_visible_only_to_the_browser_that_started_it(answer, try_worker, reader):
    started = post(reader, 2, "x - 1", json=True)
    assert started.status_code == 202
    status_url = started.json()["status_url"]
    run = wait_for(lambda: (r := reader.get(status_url).json())["done"] and r, timeout=60)
    assert run["stdout"] == "19" and run["status"] == "ran" and run["same"] is False
    stranger = Client(REMOTE_ADDR=reader.defaults["REMOTE_ADDR"])  # same address, another browser
    token_of(stranger)
    assert stranger.get(status_url).status_code == 404
    assert stranger.get(started.json()["result_url"]).status_code == 404


def test_an_exception_and_a_timeout_each_end_in_a_clear_status(answer, try_worker, reader):
    error = post(reader, 2, "def f():\n    return 1 / 0\nf()", json=True).json()
    timeout = post(reader, 2, "while True:\n    pass", json=True).json()
    run = wait_for(lambda: (r := reader.get(error["status_url"]).json())["done"] and r, timeout=60)
    assert run["status"] == "error" and "ZeroDivisionError" in run["error"]
    assert run["message"].startswith("Your code raised an exception")
    run = wait_for(lambda: (r := reader.get(timeout["status_url"]).json())["done"] and r, timeout=60)
    assert run["status"] == "timeout"
    assert run["message"].startswith("Stopped: your code ran past the time limit")


def test_an_empty_bucket_answers_429_with_retry_after_and_keeps_the_code(answer, reader):
    client = limits.client_hash(address=reader.defaults["REMOTE_ADDR"])
    while limits.bucket_take(client=client).allowed:
        pass
    response = post(reader, 2, "print('my edit')")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    text = response.content.decode()
    assert "Please wait" in text and "print(&#x27;my edit&#x27;)" in text
    json = post(reader, 2, "1", json=True)
    assert json.status_code == 429 and "Please wait" in json.json()["error"]


def test_the_global_cap_answers_429_at_once(answer, reader, settings):
    settings.TRYIT_MAX_IN_FLIGHT = 2
    settings.TRYIT_QUEUE = "try-nobody-reads"  # these runs stay in flight
    from runner.tryit_redis import IN_FLIGHT_KEY
    from runner.tryit_store import store

    try:
        assert [post(reader, 1, f"{n}", json=True).status_code for n in range(3)] == [202, 202, 429]
        busy = post(reader, 1, "3")
        assert busy.status_code == 429 and "busy" in busy.content.decode()
        assert int(busy["Retry-After"]) >= 1
    finally:
        store().client.delete(IN_FLIGHT_KEY)


def test_a_store_that_does_not_answer_is_a_503_with_retry_after_and_keeps_the_code(answer, reader, settings):
    csrf = token_of(reader)  # the page and its CSRF cookie, while the store still answers
    settings.TRYIT_STORE_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = reader.post(
        "/questions/try/cells/2/try/", {"csrfmiddlewaretoken": csrf, "code": "print('mine')"}
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    text = response.content.decode()
    assert "cannot keep track of runs right now" in text and "print(&#x27;mine&#x27;)" in text
