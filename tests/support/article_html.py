"""The answer's article as readers see it, for comparing two fetches of a page."""

import re

# Each runnable cell carries an "Edit and run" form: it quotes the cell's code and holds the
# per-request CSRF token, so two fetches of one unchanged page differ there.
TRY_FORM = re.compile(r'<details class="try".*?</details>', re.S)


def article_html(client, slug) -> str:
    """The article between its heading and "Run again", without the try forms."""
    html = client.get(f"/questions/{slug}/").content.decode()
    article = html[html.index('<article class="prose article"') : html.index('<section class="run-again"')]
    return TRY_FORM.sub("", article)
