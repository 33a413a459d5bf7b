"""The admin's Pool page, /admin/pool/, and its live fragment, /admin/pool/live/: what staff see
per queue (workers alive, runs queued and running, the last hour's p50/p95 wait and its chart)
from real Run and Worker rows in PostgreSQL, and who may see it."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from runner.models import Run, RunStatus, Worker

pytestmark = pytest.mark.django_db

POOL_URLS = ("/admin/pool/", "/admin/pool/live/")


def _run(queue: str, status: str, *, waited_s: float | None = None, started_ago_s: float = 600) -> Run:
    """A run on `queue`; with `waited_s`, started `started_ago_s` ago after waiting that long."""
    run = Run.objects.create(key=f"k-{Run.objects.count()}", cells=[], queue=queue, status=status)
    now = timezone.now()
    if waited_s is None:
        return run
    started = now - timedelta(seconds=started_ago_s)
    Run.objects.filter(pk=run.pk).update(
        requested_at=started - timedelta(seconds=waited_s), started_at=started
    )
    return run


def _worker(name: str, queues: list[str], *, beat_ago_s: float = 1) -> None:
    now = timezone.now()
    Worker.objects.create(
        name=name, queues=queues, started_at=now, last_heartbeat=now - timedelta(seconds=beat_ago_s)
    )


def _staff(client, django_user_model, *perms, is_staff=True):
    user = django_user_model.objects.create_user("ops", "ops@example.com", "pw-Ops-12345", is_staff=is_staff)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    client.force_login(user)
    return user


def _row(html: str, queue: str) -> dict[str, str]:
    """The queue table's row for `queue`: {data-field: the text shown}."""
    match = re.search(rf'<tr class="kb-pool__queue" data-queue="{re.escape(queue)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {queue}"
    cells = re.findall(r'data-field="(\w+)">(.*?)</(?:td|span)>', match.group(1), re.S)
    return {field: re.sub(r"<[^>]+>", "", text).strip() for field, text in cells}


@pytest.fixture
def pool(db):
    """cpu: 20 runs started ten minutes ago after waiting 1 s, 2 s, ... 20 s (two still running),
    3 queued, the oldest for 90 s; two live workers and a dead one. gpu: one run waiting for a
    GPU worker for 30 s, one live worker, a run that started two hours ago (outside the hour).
    Worker rows left by real workers of other tests (their heartbeats) are cleared first."""
    Worker.objects.all().delete()
    Run.objects.all().delete()
    for wait in range(1, 19):
        _run("cpu", RunStatus.VERIFIED, waited_s=wait)
    _run("cpu", RunStatus.RUNNING, waited_s=19)
    _run("cpu", RunStatus.RUNNING, waited_s=20)
    oldest = _run("cpu", RunStatus.QUEUED)
    Run.objects.filter(pk=oldest.pk).update(requested_at=timezone.now() - timedelta(seconds=90))
    _run("cpu", RunStatus.QUEUED)
    _run("cpu", RunStatus.QUEUED)
    waiting_gpu = _run("gpu", RunStatus.WAITING_GPU)
    Run.objects.filter(pk=waiting_gpu.pk).update(requested_at=timezone.now() - timedelta(seconds=30))
    _run("gpu", RunStatus.VERIFIED, waited_s=30, started_ago_s=7200)
    _worker("cpu-a1@node-1", ["cpu"])
    _worker("cpu-b2@node-2", ["cpu"])
    _worker("cpu-dead@node-3", ["cpu"], beat_ago_s=3600)
    _worker("gpu-c3@gpu-node", ["gpu"])


def test_the_page_shows_each_queue_s_workers_runs_and_waits(client, admin_user, pool):
    client.force_login(admin_user)
    response = client.get("/admin/pool/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Pool |" in html and 'id="site-name"' in html  # the admin's own page
    cpu, gpu = _row(html, "cpu"), _row(html, "gpu")
    assert cpu == {
        "workers": "2",
        "queued": "3",
        "running": "2",
        "oldest": "90 s",
        "runs": "20",
        "p50": "10 s",
        "p95": "19 s",
    }
    assert gpu == {
        "workers": "1",
        "queued": "1",
        "running": "0",
        "oldest": "30 s",
        "runs": "0",
        "p50": "–",
        "p95": "–",
    }
    assert "cpu-a1@node-1, cpu-b2@node-2" in html and "cpu-dead@node-3" not in html
    assert "gpu-c3@gpu-node" in html


def test_the_wait_chart_is_an_svg_with_a_title_a_description_and_a_table(client, admin_user, pool):
    client.force_login(admin_user)
    html = client.get("/admin/pool/").content.decode()
    charts = re.findall(r'<svg class="pool-chart".*?</svg>', html, re.S)
    assert len(charts) == 2  # cpu, gpu
    cpu_chart = charts[0]
    assert 'role="img" aria-labelledby="kb-pool-chart-0-title kb-pool-chart-0-desc"' in cpu_chart
    assert '<title id="kb-pool-chart-0-title">Queue wait on cpu, last hour</title>' in cpu_chart
    assert "20 runs started from" in cpu_chart and "p50 10 s, p95 19 s." in cpu_chart
    # Every cpu run started in one 5-minute slot: one point per series, its numbers in its title.
    assert len(re.findall(r"<circle [^>]*pool-chart__mark--p50", cpu_chart)) == 1
    assert re.search(r"<title>\d\d:\d\d: p95 19 s \(20 runs\)</title>", cpu_chart)
    assert "No run started" in charts[1]
    # The same numbers as a table, one row per 5 minutes of the hour.
    table = re.search(r'<details id="kb-pool-table-0">(.*?)</details>', html, re.S).group(1)
    assert len(re.findall(r"<tr><td>", table)) == 12
    assert re.search(r"<td>20</td><td>10 s</td><td>19 s</td>", table)


def test_the_live_fragment_has_the_same_numbers_and_follows_a_new_run(client, admin_user, pool):
    client.force_login(admin_user)
    response = client.get("/admin/pool/live/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="kb-pool-live"') and "<html" not in html
    assert _row(html, "cpu")["queued"] == "3"
    _run("cpu", RunStatus.QUEUED)
    assert _row(client.get("/admin/pool/live/").content.decode(), "cpu")["queued"] == "4"


def test_names_from_the_database_are_escaped(client, admin_user):
    _run("<i>q</i>", RunStatus.QUEUED)
    _worker("<script>x</script>", ["<i>q</i>"])
    client.force_login(admin_user)
    html = client.get("/admin/pool/").content.decode()
    assert "<i>q</i>" not in html and "<script>x</script>" not in html
    assert "Queue wait on &lt;i&gt;q&lt;/i&gt;, last hour" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def test_without_js_the_page_has_a_reload_link_and_loads_its_script_from_static(client, admin_user, pool):
    client.force_login(admin_user)
    response = client.get("/admin/pool/")
    html = response.content.decode()
    assert '<a class="kb-pool__reload" href="/admin/pool/">Reload</a>' in html
    assert re.search(r'<button type="button" class="button kb-pool__pause"[^>]* hidden>Pause</button>', html)
    assert re.search(r'<script src="/static/js/admin_pool\.js[^"]*" defer>', html)
    assert "<script>" not in html
    assert "'unsafe-inline'" not in response["Content-Security-Policy"].split("script-src")[1].split(";")[0]


def test_the_admin_index_links_to_the_pool_page_for_those_who_may_see_it(client, django_user_model):
    _staff(client, django_user_model, "runner.view_run", "runner.view_worker")
    html = client.get("/admin/").content.decode()
    assert "<caption>Operations</caption>" in html and '<a href="/admin/pool/">Pool</a>' in html
    client.logout()
    django_user_model.objects.filter(username="ops").delete()
    _staff(client, django_user_model, "runner.view_run")
    assert '<a href="/admin/pool/">Pool</a>' not in client.get("/admin/").content.decode()


@pytest.mark.parametrize("url", POOL_URLS)
def test_anonymous_visitors_are_sent_to_the_login(client, pool, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


@pytest.mark.parametrize("url", POOL_URLS)
def test_a_signed_in_user_who_is_not_staff_sees_nothing(client, django_user_model, pool, url):
    _staff(client, django_user_model, "runner.view_run", "runner.view_worker", is_staff=False)
    response = client.get(url, follow=True)
    html = response.content.decode()
    assert response.redirect_chain[0][0].startswith("/admin/login/")
    assert "cpu-a1@node-1" not in html and "kb-pool__queue" not in html


@pytest.mark.parametrize("url", POOL_URLS)
@pytest.mark.parametrize("perms", [(), ("runner.view_run",), ("runner.view_worker",)])
def test_staff_without_both_view_permissions_get_403(client, django_user_model, pool, url, perms):
    _staff(client, django_user_model, *perms)
    response = client.get(url)
    assert response.status_code == 403
    assert b"cpu-a1@node-1" not in response.content and b"kb-pool__queue" not in response.content


@pytest.mark.parametrize("url", POOL_URLS)
def test_staff_with_both_view_permissions_see_it(client, django_user_model, pool, url):
    _staff(client, django_user_model, "runner.view_run", "runner.view_worker")
    response = client.get(url)
    assert response.status_code == 200
    assert _row(response.content.decode(), "cpu")["workers"] == "2"
