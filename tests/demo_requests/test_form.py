"""The demo request form as a visitor (or a bot) uses it."""

import pytest
from django.test import Client

from demo_requests.models import DemoRequest, DemoRequestStatus

from .conftest import form_data

pytestmark = pytest.mark.django_db


def test_form_page_shows_every_field_an_unticked_consent_box_and_the_source(client, flagship):
    response = client.get(f"/demo/?from={flagship.slug}")
    html = response.content.decode()
    assert response.status_code == 200
    for label in ["Your name", "Work e-mail", "Company", "Role", "Message"]:
        assert f">{label}" in html
    assert 'type="checkbox" name="consent"' in html and "checked" not in html.split('name="consent"')[1][:40]
    assert 'href="/privacy/#demo-requests"' in html
    assert f'name="source" value="{flagship.slug}"' in html
    assert f'You came from the article “<a href="/questions/{flagship.slug}/">' in html
    assert 'class="demo-form__hp" aria-hidden="true"' in html and 'tabindex="-1"' in html


def test_valid_request_is_saved_with_its_source_article_and_ends_on_the_thank_you_page(client, flagship):
    response = client.post("/demo/", form_data(source=flagship.slug), follow=True)
    assert response.redirect_chain == [("/demo/thanks/", 302)]
    html = response.content.decode()
    assert "Thank you, we have your request" in html and "What happens next" in html
    request = DemoRequest.objects.get()
    assert (request.name, request.email, request.company) == (
        "Ada Lovelace",
        "ada@analytical.example",
        "Analytical Engines Ltd",
    )
    assert request.source_question == flagship and request.source_slug == flagship.slug
    assert request.status == DemoRequestStatus.NEW and request.consent_to_contact


def test_unknown_or_malformed_source_is_not_recorded(client):
    client.post("/demo/", form_data(source="no-such-article"))
    client.post("/demo/", form_data(source="<script>"))
    assert list(DemoRequest.objects.values_list("source_slug", "source_question")) == [("", None), ("", None)]


def test_errors_are_shown_next_to_each_field_and_keep_what_was_typed(client):
    response = client.post(
        "/demo/", form_data(name="", email="not-an-email", company="Acme <b>", consent="", role="CTO")
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "<title>Error: Request a demo" in html
    assert 'id="id_name_error"' in html and "Enter your name." in html
    assert 'aria-describedby="id_email_helptext id_email_error"' in html and 'aria-invalid="true"' in html
    assert "Enter an e-mail address like name@company.com." in html
    assert "Tick the box so that we may contact you about the demo." in html
    assert 'value="not-an-email"' in html and 'value="Acme &lt;b&gt;"' in html and 'value="CTO"' in html
    assert "We would like to see GPU runs.</textarea>" in html
    assert '<a href="#id_name">Enter your name.</a>' in html
    assert not DemoRequest.objects.exists()


def test_honeypot_bot_sees_the_thank_you_page_and_nothing_is_stored(client):
    response = client.post("/demo/", form_data(website="http://spam.example"), follow=True)
    assert response.redirect_chain == [("/demo/thanks/", 302)]
    assert "Thank you, we have your request" in response.content.decode()
    assert not DemoRequest.objects.exists()


def test_a_form_sent_too_fast_or_too_late_is_refused_with_the_values_kept(client, settings):
    import time

    from demo_requests.spam import time_token_issue

    settings.DEMO_REQUEST_MAX_AGE_S = 3600
    fast = client.post("/demo/", form_data(started=time_token_issue()))
    assert fast.status_code == 400 and "quicker than we expected" in fast.content.decode()
    assert 'value="Ada Lovelace"' in fast.content.decode()
    old = client.post("/demo/", form_data(started=time_token_issue(issued_at=time.time() - 7200)))
    assert old.status_code == 400 and "open for a long time" in old.content.decode()
    forged = client.post("/demo/", form_data(started="forged"))
    assert forged.status_code == 400 and "Something went wrong with this form" in forged.content.decode()
    assert not DemoRequest.objects.exists()


def test_a_flood_from_one_client_is_stopped_with_429(client, settings):
    settings.DEMO_REQUEST_RATE_LIMIT = (3, 600)
    statuses = [client.post("/demo/", form_data()).status_code for _ in range(5)]
    assert statuses == [302, 302, 302, 429, 429]
    assert DemoRequest.objects.count() == 3
    assert "Too many requests" in client.post("/demo/", form_data()).content.decode()
    # Another client is not affected.
    assert client.post("/demo/", form_data(), REMOTE_ADDR="192.0.2.7").status_code == 302


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"name": "x" * 100_000}, "Ensure this value has at most 120 characters"),
        ({"message": "y" * 100_000}, "Ensure this value has at most 5000 characters"),
        ({"email": "a" * 100_000 + "@example.com"}, "Ensure this value has at most 254 characters"),
        ({"company": "Acme\x00Corp"}, "Null characters are not allowed."),
        ({"message": "hi\x00"}, "Null characters are not allowed."),
        ({"name": "Eve\r\nBcc: victim@example.com"}, "without line breaks"),
        ({"company": "Acme\nSubject: spam"}, "without line breaks"),
        ({"email": "eve@example.com\r\nBcc: victim@example.com"}, "Enter an e-mail address"),
        ({"email": "eve@example.com\nCc: x@example.com"}, "Enter an e-mail address"),
        ({"role": "\x1b[31mred"}, "without line breaks or control characters"),
    ],
)
def test_junk_gets_a_clear_error_never_a_500_and_stores_nothing(client, overrides, message):
    response = client.post("/demo/", form_data(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not DemoRequest.objects.exists()


def test_missing_or_forged_csrf_token_is_refused():
    client = Client(enforce_csrf_checks=True)
    assert client.post("/demo/", form_data()).status_code == 403
    client.get("/demo/")
    forged = client.post("/demo/", {**form_data(), "csrfmiddlewaretoken": "x" * 64})
    assert forged.status_code == 403
    assert not DemoRequest.objects.exists()


def test_other_methods_are_refused(client):
    assert client.put("/demo/", form_data()).status_code == 405
    assert client.delete("/demo/").status_code == 405
    assert client.post("/demo/thanks/").status_code == 405
    assert not DemoRequest.objects.exists()


def test_csrf_passes_for_a_real_browser_flow():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/demo/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = client.post("/demo/", {**form_data(), "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and DemoRequest.objects.count() == 1


def test_with_the_shared_cache_down_requests_are_still_taken_and_articles_still_served(
    client, settings, flagship
):
    from analytics.models import ArticleViewDay

    down = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
    }
    settings.CACHES = {"default": down, "pages": down}
    assert client.post("/demo/", form_data()).status_code == 302
    assert DemoRequest.objects.count() == 1
    client.post("/consent/", {"action": "accept_all", "next": "/"})
    assert client.get(f"/questions/{flagship.slug}/").status_code == 200
    assert ArticleViewDay.objects.get().views == 1
