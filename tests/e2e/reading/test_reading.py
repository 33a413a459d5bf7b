"""A reader on a desktop (1280 px) and a phone (390 px), on the five seeded articles: each test
here would have caught one of the reading problems."""

import re
import urllib.request

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.e2e.conftest import seeded_slugs

pytestmark = pytest.mark.django_db

FLAGSHIP = "/questions/deep-learning-vs-cnn/"
RELU = "/questions/relu-vs-sigmoid-gradients/"


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _box(locator):
    box = locator.bounding_box()
    assert box is not None
    return box


def test_main_has_room_above_and_below(page, seeded_all):
    for path in ("/", FLAGSHIP):
        page.goto(seeded_all + path)
        padding = page.evaluate(
            "() => { const s = getComputedStyle(document.querySelector('main'));"
            " return [parseFloat(s.paddingTop), parseFloat(s.paddingBottom)]; }"
        )
        assert padding[0] >= 16 and padding[1] >= 16, (path, padding)


def test_phone_table_of_contents_opens_from_the_top_of_the_article(phone, seeded_all):
    phone.goto(seeded_all + FLAGSHIP)
    toc = phone.get_by_role("navigation", name="On this page")
    summary = toc.locator("summary")
    first_section = phone.locator(".prose h2").first
    assert _box(summary)["y"] < _box(first_section)["y"]
    assert _box(summary)["y"] < 2 * 844  # near the top, not after the whole article
    link = toc.get_by_role("link").nth(1)
    expect(link).to_be_hidden()
    summary.click()
    expect(link).to_be_visible()
    target = link.get_attribute("href")
    link.click()
    expect(phone).to_have_url(re.compile(re.escape(target) + "$"))
    expect(link).to_be_hidden()  # the panel closes after a jump
    heading = phone.locator(f"[id='{target[1:]}']")
    assert 0 <= _box(heading)["y"] < 844


def test_phone_wide_tables_and_code_scroll_sideways_with_a_cue(phone, seeded_all):
    phone.goto(seeded_all + FLAGSHIP)
    table_box = phone.locator(".table-scroll").first
    expect(table_box).to_have_attribute("tabindex", "0")
    expect(table_box).to_have_class(re.compile("is-scrollable"))
    assert (
        phone.evaluate("() => getComputedStyle(document.querySelector('.table-scroll')).backgroundImage")
        != "none"
    )
    overflowing = phone.evaluate(
        "() => [...document.querySelectorAll('.prose pre')].filter(p => p.scrollWidth > p.clientWidth + 1)"
        ".map(p => [p.classList.contains('is-scrollable'), p.getAttribute('tabindex')])"
    )
    assert overflowing and all(cue and tabindex == "0" for cue, tabindex in overflowing)
    # Nothing makes the page itself wider than the phone.
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390


def test_figures_open_full_size_and_have_alt_text_and_a_caption(phone, seeded_all):
    phone.goto(seeded_all + FLAGSHIP)
    figure = phone.locator(".cell__figure").first
    image = figure.locator("img")
    image.scroll_into_view_if_needed()  # loaded lazily
    expect(image).to_be_visible()
    # Without alt=/caption= both name the cell and the title the cell gave its plot.
    title = "Parameters needed to map a 3xSxS image to 16x(S-2)x(S-2)"
    expect(image).to_have_attribute("alt", f"Figure 1 drawn by cell 2: {title}")
    expect(figure.locator("figcaption")).to_contain_text(f"Figure 1 of cell 2: {title}")
    expect(figure.locator("figcaption")).to_contain_text("open full size")
    link = figure.locator("a.cell__figure-link")
    href = link.get_attribute("href")
    assert href == image.get_attribute("src")
    with urllib.request.urlopen(seeded_all + href) as response:  # noqa: S310 - the test's own server
        assert response.headers["Content-Type"] == "image/png"
        assert len(response.read()) > 1000
    link.click()
    expect(phone).to_have_url(re.compile(re.escape(href) + "$"))


def test_desktop_code_uses_the_width_beside_the_table_of_contents(page, seeded_all):
    page.goto(seeded_all + RELU)
    widths = page.evaluate("() => [...document.querySelectorAll('.cell pre')].map(p => p.clientWidth)")
    assert min(widths) >= 800, widths
    clipped = page.evaluate(
        "() => [...document.querySelectorAll('.cell pre')].filter(p => p.scrollWidth > p.clientWidth + 1)"
        ".map(p => p.textContent.slice(0, 60))"
    )
    assert clipped == []  # the layer1/layer20 lines fit
    toc, article = _box(page.locator(".article-toc")), _box(page.locator("article.article"))
    assert toc["x"] > article["x"] + article["width"] - 1  # beside, not over


def test_copy_and_wrap_buttons_sit_above_the_code_not_over_it(page, seeded_all):
    page.goto(seeded_all + FLAGSHIP)
    cell = page.locator(".cell").first
    pre = _box(cell.locator(".cell__code pre"))
    for name in ("Copy code to clipboard", "Wrap long lines"):
        button = _box(cell.get_by_role("button", name=name))
        assert button["y"] + button["height"] <= pre["y"] + 1, name


def test_cells_have_permalinks_that_the_provenance_links_to(page, seeded_all):
    page.goto(seeded_all + FLAGSHIP)
    page.locator(".provenance summary").click()
    page.locator(".provenance__details").get_by_role("link", name="2", exact=True).click()
    expect(page).to_have_url(re.compile(r"#cell-2$"))
    cell = page.locator("#cell-2")
    expect(cell).to_be_in_viewport()
    expect(cell.get_by_role("link", name="Cell 2", exact=True)).to_have_attribute("href", "#cell-2")


def test_heading_links_and_syntax_colours_are_not_faint(page, seeded_all):
    page.goto(seeded_all + FLAGSHIP)
    opacity = page.evaluate("() => getComputedStyle(document.querySelector('.headerlink')).opacity")
    assert opacity == "1"
    # The contrast of every coloured token is checked by axe-core (test_accessibility.py); here,
    # that the code is coloured at all, with our palette.
    comment = page.evaluate("() => getComputedStyle(document.querySelector('.highlight .c1')).color")
    assert comment == "rgb(87, 96, 106)"


def test_question_index_sorts_and_filters_by_tag(page, seeded_all):
    page.goto(seeded_all + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Questions").click()
    expect(page).to_have_url(re.compile(r"/questions/$"))
    expect(page.get_by_role("heading", name="All questions", level=1)).to_be_visible()
    expect(page.locator(".question-card")).to_have_count(len(seeded_slugs()))
    page.get_by_label("Sort by").select_option("title")
    page.get_by_role("button", name="Show").click()
    titles = page.locator(".question-card__title").all_inner_texts()
    assert titles == sorted(titles, key=str.casefold) and len(titles) == len(seeded_slugs())
    page.get_by_label("Tag", exact=True).select_option("pooling")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"sort=title&tag=pooling"))
    cards = page.locator(".question-card")
    assert 0 < cards.count() < len(seeded_slugs())
    for index in range(cards.count()):
        expect(cards.nth(index).locator(".tag-list")).to_contain_text("pooling")


def test_tag_index_lists_every_tag_with_its_count(page, seeded_all):
    page.goto(seeded_all + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tags").click()
    expect(page.get_by_role("heading", name="Tags", level=1)).to_be_visible()
    item = page.locator(".tag-index li", has=page.get_by_role("link", name="cnn", exact=True))
    expect(item).to_contain_text(re.compile(r"\d+ questions?"))
    item.get_by_role("link", name="cnn", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tags/cnn/$"))


def test_previous_and_next_links_walk_through_every_article(page, seeded_all):
    page.goto(seeded_all + "/questions/?sort=newest")
    newest = page.locator(".question-card__title a").first
    newest.click()
    seen = [page.url]
    while page.get_by_role("link", name=re.compile("Previous question")).count():
        page.get_by_role("link", name=re.compile("Previous question")).click()
        seen.append(page.url)
    assert len(set(seen)) == len(seeded_slugs())
    expect(page.get_by_role("link", name=re.compile("Next question"))).to_be_visible()


def test_favicon_is_served_and_pages_log_no_console_errors(page, seeded_all):
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    for path in ("/", FLAGSHIP, "/questions/", "/tags/"):
        page.goto(seeded_all + path)
    icon = page.locator("link[rel='icon'][type='image/svg+xml']").get_attribute("href")
    assert page.request.get(seeded_all + icon).headers["content-type"].startswith("image/svg+xml")
    response = page.request.get(seeded_all + "/favicon.ico")
    assert response.ok and response.headers["content-type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert errors == []


def test_feed_is_offered_to_feed_readers(page, seeded_all):
    page.goto(seeded_all + "/")
    alternate = page.locator("head link[rel='alternate'][type='application/atom+xml']")
    assert alternate.get_attribute("href") == "/feed/"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Feed").click()
    expect(page.get_by_role("heading", name="Follow new questions")).to_be_visible()
    # The public origin (SITE_URL), never the Host this browser happened to use.
    expect(page.locator(".feed-url")).to_have_text(settings.SITE_URL.rstrip("/") + "/feed/")
    feed = page.request.get(seeded_all + "/feed/")
    assert feed.headers["content-type"].startswith("application/atom+xml")


def test_table_of_contents_marks_the_section_being_read(page, seeded_all):
    page.goto(seeded_all + FLAGSHIP)
    toc = page.get_by_role("navigation", name="On this page")
    links = toc.get_by_role("link")
    expect(links.first).to_have_attribute("aria-current", "true")
    last = links.last
    target = last.get_attribute("href")[1:]
    page.locator(f"[id='{target}']").scroll_into_view_if_needed()
    page.evaluate(f"() => document.getElementById('{target}').scrollIntoView({{block: 'start'}})")
    expect(last).to_have_attribute("aria-current", "true")
    expect(links.first).not_to_have_attribute("aria-current", "true")


def test_theme_toggle_is_remembered_without_a_cookie(page, seeded_all):
    def background():
        return page.evaluate("getComputedStyle(document.body).backgroundColor")

    page.emulate_media(color_scheme="light")
    page.goto(seeded_all + FLAGSHIP)
    assert background() == "rgb(255, 255, 255)"
    toggle = page.get_by_role("button", name="Dark theme")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    assert background() == "rgb(18, 20, 22)"
    page.goto(seeded_all + "/")
    assert background() == "rgb(18, 20, 22)"
    expect(page.get_by_role("button", name="Dark theme")).to_have_attribute("aria-pressed", "true")
    assert not [c for c in page.context.cookies() if "theme" in c["name"]]
    assert page.evaluate("localStorage.getItem('theme')") == "dark"
    page.get_by_role("button", name="Dark theme").click()
    assert background() == "rgb(255, 255, 255)"
