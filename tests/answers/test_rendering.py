from answers.rendering import render_answer


def test_headings_get_anchors_permalinks_and_a_table_of_contents():
    rendered = render_answer("## First part\n\ntext\n\n### Detail\n\nmore\n")
    assert '<h2 id="first-part">' in rendered.html
    assert 'href="#first-part"' in rendered.html and "headerlink" in rendered.html
    assert 'href="#detail"' in rendered.toc_html


def test_code_is_highlighted_on_the_server_and_tables_render():
    rendered = render_answer("```python\nimport torch\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert '<span class="kn">import</span>' in rendered.html
    assert "<table>" in rendered.html and "<td>1</td>" in rendered.html


def test_tokens_drawn_in_the_text_colour_get_no_span_in_cells_and_display_code():
    # A span per name, bracket and operator made up a third of the flagship's HTML.
    code = 'import numpy as np\nx = np.zeros((2, 3))  # two rows\nprint(f"{x.sum()}")\n'
    rendered = render_answer(f"```python\n{code}```\n\n```python run\n{code}```\n")
    for block in rendered.html.split("<pre")[1:]:
        assert "x = np.zeros((" in block  # names, operators and punctuation as plain text
        assert '<span class="kn">import</span> numpy <span class="k">as</span> np' in block
        assert '<span class="mi">2</span>, <span class="mi">3</span>' in block
        assert '<span class="c1"># two rows</span>' in block
        assert '<span class="nb">print</span>' in block and '<span class="si">{</span>' in block
        for plain in ("n", "o", "p", "w", "nn"):
            assert f'<span class="{plain}">' not in block


def test_script_tags_javascript_links_and_event_handlers_are_removed():
    hostile = (
        "<script>alert(1)</script>\n\n[click](javascript:alert(2))\n\n"
        '<img src="x.png" onerror="alert(3)">\n\n<a href="#" onclick="alert(4)">x</a>\n\n'
        '<iframe src="https://evil.example"></iframe>\n'
    )
    html = render_answer(hostile).html
    for needle in ("<script", "javascript:", "onerror", "onclick", "<iframe", "alert(1)"):
        assert needle not in html


def test_runnable_cell_is_shown_as_code_not_yet_run_with_its_expected_output():
    html = render_answer("```python run\nprint('<b>hi</b>')\n```\n\n```output\n<b>hi</b>\n```\n").html
    assert "Not yet run" in html
    assert 'class="cell cell--not-run"' in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html  # expected output is escaped text
    assert "<b>hi</b>" not in html


def test_prose_cannot_forge_a_cell_placeholder():
    html = render_answer("kbcell0000000000000000n0x\n\n```python run\nx = 1\n```\n").html
    assert html.count('class="cell ') == 1
    assert "kbcell0000000000000000n0x" in html


def test_plain_text_for_search_excludes_markup():
    rendered = render_answer("## Pooling\n\nMax **pooling** keeps the largest value.\n")
    assert "Max pooling keeps the largest value." in rendered.text
    assert "<" not in rendered.text


def test_images_from_other_hosts_are_dropped_but_the_sites_own_are_kept():
    html = render_answer(
        "![tracker](https://tracker.example/p.png)\n\n![own](/static/img/diagram.png)\n"
    ).html
    assert "tracker.example" not in html
    assert 'src="/static/img/diagram.png"' in html


def test_heading_anchors_keep_greek_letters_and_other_unicode_and_stay_unique():
    from pathlib import Path

    body = (Path(__file__).resolve().parents[2] / "content" / "batch-normalisation.md").read_text()
    rendered = render_answer(body.split("---", 2)[2])
    assert 'id="the-learnable-gamma-and-beta-and-the-running-statistics"' in rendered.html
    assert 'href="#the-learnable-gamma-and-beta-and-the-running-statistics"' in rendered.toc_html

    rendered = render_answer("## Pooling a 4×4 map\n\n## Pooling a 4×4 map\n\n## Café crème\n")
    assert 'id="pooling-a-4x4-map"' in rendered.html and 'id="pooling-a-4x4-map_1"' in rendered.html
    assert 'id="café-crème"' in rendered.html
