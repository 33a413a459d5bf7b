"""What sales see in the admin: the list, search, filters and a spreadsheet-safe CSV export."""

import csv
import io

import pytest

from demo_requests.models import DemoRequest, DemoRequestStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def requests_(flagship):
    first = DemoRequest.objects.create(
        name="Ada Lovelace",
        email="ada@analytical.example",
        company="Analytical Engines",
        consent_to_contact=True,
        source_question=flagship,
        source_slug=flagship.slug,
    )
    second = DemoRequest.objects.create(
        name='=HYPERLINK("http://evil.example","Click")',
        email="mallory@example.com",
        company="+cmd|' /C calc'!A0",
        role="@admin",
        message="-1+1\n\tsecond line",
        consent_to_contact=True,
        status=DemoRequestStatus.CONTACTED,
    )
    return first, second


def test_sales_list_shows_status_and_source_article_and_escapes_input(admin_client, requests_, flagship):
    html = admin_client.get("/admin/demo_requests/demorequest/").content.decode()
    assert "Ada Lovelace" in html and "Analytical Engines" in html
    assert f'href="/admin/kb/question/{flagship.pk}/change/">{flagship.title}</a>' in html
    assert "Contacted" in html and "New" in html
    assert "=HYPERLINK(&quot;http://evil.example&quot;,&quot;Click&quot;)" in html
    # The filters sales need.
    for label in ["By status", "By created at", "By source article"]:
        assert label in html


def test_search_and_status_filter(admin_client, requests_):
    found = admin_client.get("/admin/demo_requests/demorequest/?q=analytical").content.decode()
    assert "Ada Lovelace" in found and "mallory@example.com" not in found
    contacted = admin_client.get("/admin/demo_requests/demorequest/?status__exact=contacted").content.decode()
    assert "mallory@example.com" in contacted and "ada@analytical.example" not in contacted


def test_csv_export_of_the_selected_requests_is_safe_to_open_in_a_spreadsheet(admin_client, requests_):
    first, second = requests_
    response = admin_client.post(
        "/admin/demo_requests/demorequest/",
        {"action": "export_csv", "_selected_action": [first.pk, second.pk]},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="demo-requests-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["Work e-mail"] for row in rows] == ["ada@analytical.example", "mallory@example.com"]
    assert rows[0]["Source article"] == first.source_question.title
    evil = rows[1]
    assert evil["Name"] == '\'=HYPERLINK("http://evil.example","Click")'
    assert evil["Company"] == "'+cmd|' /C calc'!A0"
    assert evil["Role"] == "'@admin"
    assert evil["Message"] == "'-1+1\n\tsecond line"
    assert evil["Status"] == "Contacted"
    for row in rows:
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values())


def test_status_actions_move_requests_along(admin_client, requests_):
    first, _ = requests_
    admin_client.post(
        "/admin/demo_requests/demorequest/", {"action": "mark_qualified", "_selected_action": [first.pk]}
    )
    first.refresh_from_db()
    assert first.status == DemoRequestStatus.QUALIFIED


def test_requests_cannot_be_added_by_hand_and_need_staff(client, admin_client):
    assert admin_client.get("/admin/demo_requests/demorequest/add/").status_code == 403
    assert client.get("/admin/demo_requests/demorequest/").status_code == 302
