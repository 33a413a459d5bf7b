from answers.rich_output import output_parts


def test_each_rich_output_takes_the_place_of_its_text_and_is_sanitised():
    html_text = "<IPython.core.display.HTML object>"
    output = f"before\n{html_text}\nafter\n   a\n0  1"
    displays = [
        {"kind": "text/html", "content": "<b>x</b><script>alert(1)</script>", "text": html_text},
        {"kind": "text/html", "content": '<table><tr><td onclick="x()">1</td></tr></table>',
         "text": "   a\n0  1", "trailing": True},
    ]  # fmt: skip
    parts = output_parts(output, displays, 3)
    assert [part.get("text") for part in parts] == ["before\n", None, "after\n", None]
    assert str(parts[1]["rich"]) == "<b>x</b>"
    assert str(parts[3]["rich"]) == "<table><tbody><tr><td>1</td></tr></tbody></table>"


def test_markdown_is_rendered_and_sanitised_and_svg_is_only_an_image():
    displays = [
        {"kind": "text/markdown", "content": "# Hi\n\n<script>x()</script>*em*", "text": "<Markdown>"},
        {"kind": "image/svg+xml", "content": "<svg><script>x()</script></svg>", "text": "<SVG>"},
        {"kind": "text/html", "content": "<i>not in the output</i>", "text": "missing"},
    ]
    parts = output_parts("<Markdown>\n<SVG>", displays, 2)
    assert str(parts[0]["rich"]).split() == ["<h1>Hi</h1>", "<p><em>em</em></p>"]
    assert str(parts[1]["rich"]).startswith('<img class="cell__svg" src="data:image/svg+xml;base64,')
    assert "<script" not in str(parts[1]["rich"]) and 'alt="Image displayed by cell 2"' in str(
        parts[1]["rich"]
    )
    assert str(parts[2]["rich"]) == "<i>not in the output</i>"  # not found in the text: after it
