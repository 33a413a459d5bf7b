"""The admin's Pool page in Chromium: reached from the admin index, its numbers follow the run
table without a reload, Pause holds them, the Reload link works without JavaScript, axe finds
nothing in light or dark, and every control is reachable with the keyboard."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from playwright.sync_api import expect

from runner import pool_admin
from runner.models import Run, RunStatus
from tests.e2e.reading.test_accessibility import AXE, axe_violations

PASSWORD = "pw-Operator-2026"
QUEUED_CPU = 'tr[data-queue="cpu"] [data-field="queued"]'


@pytest.fixture
def operator(django_user_model):
    """Staff who may see runs and workers, and nothing else."""
    user = django_user_model.objects.create_user("operator", "op@example.com", PASSWORD, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="runner", codename__in=["view_run", "view_worker"])
    )
    return user


@pytest.fixture(autouse=True)
def quick_refresh(monkeypatch):
    """A refresh every second (five on a real site), so the checks below wait less."""
    monkeypatch.setattr(pool_admin, "REFRESH_S", 1)


def _sign_in(page, base_url: str) -> None:
    page.goto(base_url + "/admin/login/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def _queue(status=RunStatus.QUEUED) -> Run:
    return Run.objects.create(key=f"e2e-{Run.objects.count()}", cells=[], queue="cpu", status=status)


def _started(*, waited_s: float, minutes_ago: float) -> None:
    """A verified cpu run that started `minutes_ago` after waiting `waited_s`."""
    run = _queue(RunStatus.VERIFIED)
    started = timezone.now() - timedelta(minutes=minutes_ago)
    Run.objects.filter(pk=run.pk).update(
        requested_at=started - timedelta(seconds=waited_s), started_at=started
    )


def test_numbers_follow_new_runs_live_and_pause_holds_them(page, live_server, operator, artifacts_dir):
    _sign_in(page, live_server.url)
    page.get_by_role("link", name="Pool", exact=True).click()
    expect(page.get_by_role("heading", name="Pool", level=1)).to_be_visible()
    expect(page.get_by_role("img", name="Queue wait on cpu, last hour")).to_be_visible()
    queued = page.locator(QUEUED_CPU)
    expect(queued).to_have_text("0")
    expect(page.get_by_role("status")).to_contain_text("Live")

    _queue()
    expect(queued).to_have_text("1")  # no reload: the live refresh brought it
    page.screenshot(path=str(artifacts_dir / "admin-pool.png"), full_page=True)

    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Paused")
    updated = page.locator(".kb-pool__updated time").text_content()
    _queue()
    page.wait_for_timeout(3_000)  # three refresh periods
    expect(queued).to_have_text("1")
    assert page.locator(".kb-pool__updated time").text_content() == updated

    page.get_by_role("button", name="Resume").click()
    expect(queued).to_have_text("2")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()


def test_without_javascript_the_reload_link_shows_new_numbers(browser, live_server, operator):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _sign_in(page, live_server.url)
        page.goto(live_server.url + "/admin/pool/")
        expect(page.locator(QUEUED_CPU)).to_have_text("0")
        expect(page.get_by_role("button", name="Pause")).to_be_hidden()
        _queue()
        page.get_by_role("link", name="Reload").click()
        expect(page.locator(QUEUED_CPU)).to_have_text("1")
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_wcag_21_aa_violation(browser, live_server, operator, scheme, artifacts_dir):
    assert AXE.exists(), "run `npm ci` in tests/e2e (bin/test does it)"
    _queue()
    _queue(RunStatus.RUNNING)
    for minutes_ago, waits in ((2, (1, 2, 9)), (12, (0.5, 4)), (17, (3, 30)), (40, (2,))):
        for waited_s in waits:
            _started(waited_s=waited_s, minutes_ago=minutes_ago)
    context = browser.new_context(color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    try:
        _sign_in(page, live_server.url)
        page.goto(live_server.url + "/admin/pool/")
        page.get_by_text("Waits on cpu per 5 minutes as a table").click()
        page.get_by_role("button", name="Pause").click()  # axe reads a page that stays still
        assert axe_violations(page) == []
        page.screenshot(path=str(artifacts_dir / f"admin-pool-{scheme}.png"), full_page=True)
    finally:
        context.close()


FOCUSED = """() => {
  const el = document.activeElement, s = getComputedStyle(el);
  return [el.id || el.className || el.tagName, el.textContent.trim().slice(0, 60),
          s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2];
}"""


def test_every_control_is_reachable_by_keyboard_and_focus_survives_a_refresh(page, live_server, operator):
    _sign_in(page, live_server.url)
    page.goto(live_server.url + "/admin/pool/")
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    wanted = {
        "Pause",
        "Reload",
        "Waits on cpu per 5 minutes as a table",
        "Waits on gpu per 5 minutes as a table",
    }
    reached = {}
    page.locator("body").focus()
    for _ in range(120):
        page.keyboard.press("Tab")
        _, text, ringed = page.evaluate(FOCUSED)
        if text in wanted:
            reached[text] = ringed
        if text == "Waits on gpu per 5 minutes as a table":
            break
    assert reached == dict.fromkeys(wanted, True)

    # The cpu table opened with the keyboard stays open and focused across live refreshes.
    summary = page.get_by_text("Waits on cpu per 5 minutes as a table")
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#kb-pool-table-0")).to_have_attribute("open", "")
    _queue()
    expect(page.locator(QUEUED_CPU)).to_have_text("1")
    expect(page.locator("#kb-pool-table-0")).to_have_attribute("open", "")
    expect(summary).to_be_focused()

    page.get_by_role("button", name="Pause").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Resume")).to_be_focused()
