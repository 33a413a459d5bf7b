"""axe-core (npm, injected through Playwright) on every public page, at 1280 and 390 px, in
light and dark: zero violations of WCAG 2.1 A and AA. Screenshots of each page at both widths
land in test-artifacts/."""

from pathlib import Path

import pytest
from django.core.cache import cache

from tests.e2e.conftest import ROOT
from tests.e2e.reading.public_pages import public_pages

pytestmark = pytest.mark.django_db

AXE = ROOT / "tests" / "e2e" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def settle_transitions(page) -> None:
    """Waits for the CSS transitions in flight to end. The admin's links fade their colour
    over 0.15 s, so a colour scheme switched just before axe runs would otherwise be measured
    halfway between the two palettes (a contrast failure no reader ever sees at rest)."""
    page.evaluate(
        """() => Promise.all(document.getAnimations()
            .filter(animation => animation instanceof CSSTransition)
            .map(animation => animation.finished.catch(() => null)))"""
    )


def axe_violations(page) -> list[str]:
    # The context bypasses the site's CSP only so that axe's own script can be injected.
    page.add_script_tag(path=str(AXE))
    settle_transitions(page)
    result = page.evaluate("options => axe.run(document, options)", WCAG_21_AA)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in result["violations"]
    ]


def _open_customise(page) -> None:
    customise = page.locator("#consent-banner summary")
    if customise.count() and customise.is_visible():
        customise.click()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_public_page_has_no_wcag_21_aa_violations(browser, seeded_all, artifacts_dir, width, scheme):
    assert AXE.exists(), "run `npm ci` in tests/e2e (bin/test does it)"
    w, h = WIDTHS[width]
    context = browser.new_context(viewport={"width": w, "height": h}, color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems = []
    pages = [*public_pages(), ("consent-settings", "/consent/")]
    try:
        for name, path in pages:
            page.goto(seeded_all + path)
            if name == "home":
                _open_customise(page)  # the consent panel, opened, is part of the check
            for violation in axe_violations(page):
                problems.append(f"{name} {path}: {violation}")
            if scheme == "light":
                page.screenshot(path=str(artifacts_dir / f"{name}-{width}.png"), full_page=True)
        cache.clear()  # the demo form's per-client rate limit: this is not a flood
        page.goto(seeded_all + "/demo/")
        page.get_by_role("button", name="Send request").click()
        page.get_by_role("heading", name="There is a problem").wait_for()
        problems += [f"demo with errors: {v}" for v in axe_violations(page)]
        if scheme == "light":
            page.screenshot(path=str(artifacts_dir / f"demo-errors-{width}.png"), full_page=True)
    finally:
        context.close()
    assert problems == [], "\n".join(problems)
    if scheme == "light":
        assert all(Path(artifacts_dir / f"{name}-{width}.png").stat().st_size > 5_000 for name, _ in pages)
