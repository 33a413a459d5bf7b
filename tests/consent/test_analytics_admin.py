"""The staff analytics page: first-party counts, a server-drawn chart, no third party."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import ArticleViewDay
from demo_requests.models import DemoRequest

pytestmark = pytest.mark.django_db

PAGE = "/admin/analytics/articleviewday/"


def test_staff_see_views_per_day_per_article_and_demo_requests_per_source(
    admin_client, flagship, make_question
):
    other = make_question(title="Pooling <b>explained</b>", slug="pooling")
    today = timezone.now().date()
    ArticleViewDay.objects.create(question=flagship, day=today, views=7, visitors=5)
    ArticleViewDay.objects.create(question=flagship, day=today - timedelta(days=1), views=3, visitors=3)
    ArticleViewDay.objects.create(question=other, day=today, views=2, visitors=2)
    ArticleViewDay.objects.create(question=other, day=today - timedelta(days=40), views=99, visitors=1)
    for _ in range(2):
        DemoRequest.objects.create(
            name="A", email="a@x.example", company="X", source_question=flagship, source_slug=flagship.slug
        )
    DemoRequest.objects.create(name="B", email="b@x.example", company="Y")

    response = admin_client.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Article views per day, last 30 days (12 in all)" in html
    assert '<svg class="chart" viewBox="0 0 720 176" role="img"' in html
    assert html.count('<rect class="chart__bar"') == 30
    assert f"<title>{today:%d %b}: 9</title>" in html
    assert f'<a href="/questions/{flagship.slug}/">{flagship.title}</a></td><td>10</td><td>8</td>' in html
    assert (
        "Pooling &lt;b&gt;explained&lt;/b&gt;</a></td><td>2</td>" in html
    )  # escaped; 40-day-old row left out
    assert f"<td>{flagship.title}</td><td>2</td>" in html and "<td>(no article)</td><td>1</td>" in html
    assert 'src="http' not in html and 'href="http' not in html  # nothing loaded from elsewhere


def test_admin_index_lists_analytics_and_the_page_needs_staff(admin_client, client):
    assert 'href="/admin/analytics/articleviewday/"' in admin_client.get("/admin/").content.decode()
    assert client.get(PAGE).status_code == 302
    assert admin_client.get("/admin/analytics/articleviewday/add/").status_code == 403
