from answers.cells import parse_answer
from answers.ipython_lines import SUPPORTED_MAGICS, ipython_lines_refused


def test_supported_magics_pass_and_python_that_looks_like_a_magic_is_python():
    code = (
        "%matplotlib inline\n"
        "%time total = sum(range(10))\n"
        "%timeit -n 3 sum(range(10))\n"
        "text = '''\n!not a shell line\n%not_a_magic\n'''\n"
        "print('%d items' % 3, 1 != 2)\n"
    )
    assert ipython_lines_refused(code) == []
    assert ipython_lines_refused("%%time\nx = 1\nx") == []
    assert {"%matplotlib", "%time", "%timeit", "%%time", "%%timeit"} == SUPPORTED_MAGICS


def test_shell_lines_help_installs_and_unknown_magics_are_refused_with_their_line():
    code = "import os\n!ls -l\nfiles = !ls\nos?\n%pip install requests\n%who\n%matplotlib notebook\n"
    refused = ipython_lines_refused(code)
    assert [(line, text) for line, text, _ in refused] == [
        (2, "!ls -l"),
        (3, "files = !ls"),
        (4, "os?"),
        (5, "%pip install requests"),
        (6, "%who"),
        (7, "%matplotlib notebook"),
    ]
    reasons = [reason for _, _, reason in refused]
    assert "no shell" in reasons[0] and "no shell" in reasons[1]
    assert "interactive session" in reasons[2]
    assert "cannot be installed" in reasons[3]
    assert "%who is not supported (supported: %%time, %%timeit, %matplotlib, %time, %timeit)" in reasons[4]
    assert "only `%matplotlib inline`" in reasons[5]


def test_cell_magics_are_checked_with_their_body_and_position():
    assert ipython_lines_refused("%%bash\nls") == [(1, "%%bash", ipython_lines_refused("!ls")[0][2])]
    assert [r[:2] for r in ipython_lines_refused("%%time\nx = 1\n!ls\nx")] == [(3, "!ls")]
    late = ipython_lines_refused("x = 1\n%%time\ny = 2")
    assert late[0][:2] == (2, "%%time") and "must be the first line" in late[0][2]


def test_lines_are_found_in_a_cell_that_is_not_valid_python():
    refused = ipython_lines_refused("def f(:\n!rm -rf /\n    %time f()\n")
    assert [r[:2] for r in refused] == [(2, "!rm -rf /")]


def test_refused_lines_are_authoring_errors_naming_the_cell_and_its_markdown_line():
    markdown = "Intro.\n\n```python run\nx = 1\n```\n\n```python run\nimport os\n!ls\n```\n"
    errors = parse_answer(markdown).errors
    assert [(e.line, e.message.split(":")[0]) for e in errors] == [(9, "cell 2, line 2")]
    assert "`!ls` cannot run: shell commands cannot run here" in errors[0].message
