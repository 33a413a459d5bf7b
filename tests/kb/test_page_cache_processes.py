"""Nothing stale, in any process: every change readers should see shows on the very
next request served by another process, a gunicorn with two workers that shares only the
database and the Redis cache with this test. Changes are made the way staff make them: the
admin's forms and the publishing services, never by calling the invalidation."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection
from django.test import Client

from answers.services import answer_save
from kb.models import Question

pytestmark = pytest.mark.django_db(transaction=True)
ARTICLE = "/questions/deep-learning-vs-cnn/"


@pytest.fixture
def other_process():
    """gunicorn, 2 sync workers, on the test database and the test run's Redis."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings_dict = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}"
        f"/{settings_dict['NAME']}",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/robots.txt", timeout=5)  # noqa: S310 (http on loopback)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"gunicorn did not start: {server.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield base
    server.terminate()
    server.wait(timeout=20)


def fetch(base: str, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{base}{path}", timeout=20) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def prime(base: str, path: str) -> str:
    """Several requests, so both workers and this process hold the page in their caches."""
    pages = {fetch(base, path)[1] for _ in range(4)}
    Client().get(path)
    return pages.pop()


def admin_edit(staff: Client, question: Question, **changes) -> None:
    question.refresh_from_db()
    data = {
        "title": question.title,
        "slug": question.slug,
        "summary": question.summary,
        "tags": [tag.pk for tag in question.tags.all()],
        "status": question.status,
        "author": "",
        "answer-TOTAL_FORMS": "1",
        "data_files-TOTAL_FORMS": "0",
        "data_files-INITIAL_FORMS": "0",
        "answer-INITIAL_FORMS": "1",
        "answer-MIN_NUM_FORMS": "0",
        "answer-MAX_NUM_FORMS": "1",
        "answer-0-id": str(question.answer.pk),
        "answer-0-question": str(question.pk),
        "answer-0-body": question.answer.body,
        **changes,
    }
    if question.allow_unverified:
        data["allow_unverified"] = "on"
    response = staff.post(f"/admin/kb/question/{question.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]


@pytest.fixture
def staff(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("editor", "e@example.com", "pw-Ed-12345"))
    return client


def test_a_newer_verified_revision_and_an_override_show_at_once_in_another_process(flagship, other_process):
    assert "448 parameters" in prime(other_process, ARTICLE)
    answer_save(question=flagship, body="## Short answer\n\nA newer verified revision about kernels.\n")
    status, html = fetch(other_process, ARTICLE)
    assert status == 200 and "A newer verified revision about kernels." in html
    assert "448 parameters" not in html
    assert "A newer verified revision" in Client().get(ARTICLE).content.decode()

    prime(other_process, ARTICLE)
    Question.objects.filter(pk=flagship.pk).update(allow_unverified=True)
    flagship.refresh_from_db()
    # An unknown cell option: this revision cannot verify; staff chose to publish it anyway.
    answer_save(
        question=flagship, body="## Overridden\n\n```python run colour=red\n1\n```\n\nOverride prose.\n"
    )
    status, html = fetch(other_process, ARTICLE)
    assert "Override prose." in html and "The outputs on this page are not verified." in html


def test_title_summary_tags_and_unpublishing_in_the_admin_show_at_once(
    flagship, make_question, other_process, staff
):
    other = make_question(title="Pooling layers", tags=("pooling",))
    prime(other_process, ARTICLE)
    prime(other_process, "/")
    prime(other_process, "/tags/pooling/")
    prime(other_process, "/feed/")

    admin_edit(staff, flagship, title="Deep learning vs CNNs, retitled", summary="A new summary.")
    for path in (ARTICLE, "/", "/feed/"):
        html = fetch(other_process, path)[1]
        assert "Deep learning vs CNNs, retitled" in html, path
    assert "A new summary." in fetch(other_process, ARTICLE)[1]

    # Tags: the flagship joins "pooling"; the tag page and the related questions change.
    pooling = other.tags.get()
    admin_edit(staff, flagship, tags=[*flagship.tags.values_list("pk", flat=True), pooling.pk])
    assert "Deep learning vs CNNs, retitled" in fetch(other_process, "/tags/pooling/")[1]
    assert "Pooling layers" in fetch(other_process, ARTICLE)[1].split('id="related-title"')[1]

    admin_edit(staff, flagship, status="draft")
    assert fetch(other_process, ARTICLE)[0] == 404
    assert "retitled" not in fetch(other_process, "/")[1]
    assert "retitled" not in fetch(other_process, "/tags/pooling/")[1]


def test_a_newly_published_question_shows_in_lists_and_related_questions_at_once(
    flagship, make_question, other_process
):
    page = prime(other_process, ARTICLE)
    prime(other_process, "/")
    assert "Weight sharing explained" not in page
    make_question(title="Weight sharing explained", tags=("cnn",))
    related = fetch(other_process, ARTICLE)[1].split('id="related-title"')[1]
    assert "Weight sharing explained" in related
    assert "Weight sharing explained" in fetch(other_process, "/")[1]
    assert "Weight sharing explained" in fetch(other_process, "/sitemap.xml")[1].replace(
        "weight-sharing-explained", "Weight sharing explained"
    )
