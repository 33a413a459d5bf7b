"""Long summaries are shortened at a sentence or word boundary, never mid-sentence, wherever
readers see them: the home page, the feed and related lists."""

from xml.etree import ElementTree

from django.core.management import call_command
from playwright.sync_api import expect

# The batch-norm article's original summary: 383 characters, cut at 300 mid-word before.
LONG = (
    "In training mode a BatchNorm layer standardises every channel with the mean and variance of "
    "the current mini-batch, then applies a learned scale (gamma) and shift (beta); in eval mode it "
    "uses running averages instead, so the same input gives different outputs in the two modes. In a "
    "deep MLP it makes training far less sensitive to weight scale, though why it helps is still debated."
)
FIRST_SENTENCE = LONG[: LONG.index("modes.") + len("modes.")]
ARTICLE = """---
title: "{title}"
slug: {slug}
tags: [normalisation]
summary: {summary}
---
## Short answer

Prose only, so no worker is needed.
"""


def _import(tmp_path):
    (tmp_path / "a.md").write_text(ARTICLE.format(title="Batch norm", slug="batch-norm", summary=LONG))
    (tmp_path / "b.md").write_text(ARTICLE.format(title="Layer norm", slug="layer-norm", summary="Short."))
    call_command("import_articles", str(tmp_path))


def test_long_summary_ends_at_a_sentence_on_the_home_page_feed_and_related_list(page, live_server, tmp_path):
    _import(tmp_path)
    page.goto(live_server.url + "/")
    card = page.locator(".question-card").filter(has_text="Batch norm")
    expect(card.locator(".question-card__summary")).to_have_text(FIRST_SENTENCE)

    page.goto(live_server.url + "/questions/layer-norm/")
    related = page.locator(".related li").filter(has_text="Batch norm")
    expect(related).to_contain_text(FIRST_SENTENCE)
    expect(related).not_to_contain_text("In a deep")

    feed = page.request.get(live_server.url + "/feed/")
    atom = "{http://www.w3.org/2005/Atom}"
    entries = ElementTree.fromstring(feed.body()).iter(f"{atom}entry")
    summaries = {e.findtext(f"{atom}title"): e.findtext(f"{atom}summary") for e in entries}
    assert summaries["Batch norm"] == FIRST_SENTENCE
