from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from answers.models import Revision
from kb.models import Question

pytestmark = pytest.mark.django_db

CONTENT = Path(__file__).resolve().parents[2] / "content"

ARTICLE = """---
title: {title}
slug: {slug}
tags: [cnn, pooling]
summary: Short summary.
---
## Body

Text about pooling.
"""


def _write(folder: Path, name: str, **fields) -> None:
    (folder / name).write_text(ARTICLE.format(**fields), encoding="utf-8")


def test_seeded_content_imports_and_a_second_import_changes_nothing():
    call_command("import_articles", str(CONTENT))
    flagship = Question.objects.get(slug="deep-learning-vs-cnn")
    assert flagship.status == Question.Status.PUBLISHED
    assert flagship.title == "How are deep learning and convolutional neural networks different?"
    assert flagship.answer.cell_count >= 3
    assert flagship.answer.authoring_errors == []
    before = (Question.objects.count(), Revision.objects.count(), flagship.updated_at)
    call_command("import_articles", str(CONTENT))
    flagship.refresh_from_db()
    assert (Question.objects.count(), Revision.objects.count(), flagship.updated_at) == before


def test_changed_file_updates_the_question_with_a_new_revision(tmp_path):
    _write(tmp_path, "a.md", title="Pooling", slug="pooling")
    call_command("import_articles", str(tmp_path))
    (tmp_path / "a.md").write_text(ARTICLE.format(title="Pooling, revised", slug="pooling") + "More.\n")
    call_command("import_articles", str(tmp_path))
    question = Question.objects.get(slug="pooling")
    assert question.title == "Pooling, revised"
    assert question.answer.revisions.count() == 2


def test_missing_title_is_reported_with_the_file_name_and_nothing_is_imported(tmp_path):
    _write(tmp_path, "good.md", title="Good", slug="good")
    (tmp_path / "broken.md").write_text("---\nslug: broken\n---\nBody\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"broken\.md: missing title"):
        call_command("import_articles", str(tmp_path))
    assert not Question.objects.exists()


def test_duplicate_slug_is_reported_with_both_files_and_nothing_is_imported(tmp_path):
    _write(tmp_path, "one.md", title="One", slug="same")
    _write(tmp_path, "two.md", title="Two", slug="same")
    with pytest.raises(CommandError, match=r"two\.md: duplicate slug 'same' \(also in one\.md\)"):
        call_command("import_articles", str(tmp_path))
    assert not Question.objects.exists()


def test_malformed_front_matter_is_reported(tmp_path):
    (tmp_path / "bad.md").write_text("---\ntitle: [unclosed\n---\nBody\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"bad\.md"):
        call_command("import_articles", str(tmp_path))


def test_summary_fit_keeps_whole_sentences_or_whole_words_with_an_ellipsis():
    from answers.importing import summary_fit

    assert summary_fit("Short.  Two   spaces.") == "Short. Two spaces."
    first = "A first sentence that is long enough to keep on its own, " + "quite long " * 12 + "indeed."
    assert summary_fit(first + " " + "then one long sentence " * 20 + "ends.") == first
    assert summary_fit(first + " Another. " + "x " * 200) == first + " Another."
    cut = summary_fit("word " * 100)
    assert len(cut) <= 300 and cut.endswith("word…") and "wor…" not in cut
    no_spaces = summary_fit("x" * 400)
    assert len(no_spaces) == 300 and no_spaces.endswith("…")


def test_import_warns_about_a_summary_longer_than_the_limit(tmp_path):
    from answers.importing import articles_import

    (tmp_path / "a.md").write_text(
        "---\ntitle: Long\nslug: long\nsummary: " + "Sentence number one is here. " * 20 + "\n---\nBody.\n"
    )
    report = articles_import(directory=tmp_path)
    assert any("the summary has 579 characters (at most 300)" in w for w in report.warnings)
