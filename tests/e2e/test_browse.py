"""A reader browsing the seeded site in Chromium."""

import re

from playwright.sync_api import expect

FLAGSHIP = "How are deep learning and convolutional neural networks different?"


def test_reader_opens_the_list_then_the_flagship_article(page, seeded_site, artifacts_dir):
    page.goto(seeded_site + "/")
    expect(page.get_by_role("heading", name="Questions", level=1)).to_be_visible()
    page.get_by_role("link", name=FLAGSHIP).click()
    expect(page).to_have_url(re.compile(r"/questions/deep-learning-vs-cnn/$"))
    expect(page.get_by_role("heading", name=FLAGSHIP, level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="On this page")).to_be_visible()
    expect(page.locator(".cell").first).to_contain_text("Conv2d")
    expect(page.get_by_role("link", name="Request a demo")).to_be_visible()
    expect(page.locator(".copy-button").first).to_be_attached()
    page.screenshot(path=str(artifacts_dir / "article.png"), full_page=True)
    assert (artifacts_dir / "article.png").stat().st_size > 10_000


def test_reader_searches_for_a_word_in_the_article(page, seeded_site):
    page.goto(seeded_site + "/")
    page.get_by_label("Search questions").fill("weight sharing")
    page.get_by_label("Search questions").press("Enter")
    expect(page.get_by_role("heading", name="Search", level=1)).to_be_visible()
    result = page.get_by_role("link", name=FLAGSHIP)
    expect(result).to_be_visible()
    expect(page.locator(".question-card mark").first).to_be_visible()
    result.click()
    expect(page.get_by_role("heading", name=FLAGSHIP, level=1)).to_be_visible()


def test_reader_follows_a_tag(page, seeded_site):
    page.goto(seeded_site + "/questions/deep-learning-vs-cnn/")
    page.locator("article header").get_by_role("link", name="cnn", exact=True).click()
    expect(page).to_have_url(re.compile(r"/tags/cnn/$"))
    expect(page.get_by_role("heading", name="Questions tagged “cnn”")).to_be_visible()
    expect(page.get_by_role("link", name=FLAGSHIP)).to_be_visible()


def test_dark_mode_follows_the_system_preference(page, seeded_site):
    def background():
        return page.evaluate("getComputedStyle(document.body).backgroundColor")

    page.emulate_media(color_scheme="light")
    page.goto(seeded_site + "/questions/deep-learning-vs-cnn/")
    assert background() == "rgb(255, 255, 255)"
    page.emulate_media(color_scheme="dark")
    assert background() == "rgb(18, 20, 22)"


def test_unknown_page_shows_the_404_page(page, seeded_site):
    response = page.goto(seeded_site + "/questions/does-not-exist/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
