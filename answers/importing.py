"""Import articles (Markdown with YAML front matter) from a folder, all or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from django.db import transaction
from django.utils.text import slugify

from kb.models import Question
from kb.services import question_publish, tags_ensure

from .approvals import approvals_sync_from_files, figures_dir, read_approved_files
from .datafiles import data_files_set, files_dir, read_files_dir
from .limits import answer_size_problem
from .models import Answer
from .services import answer_save, answer_verify


class ArticleImportError(Exception):
    """Raised with every problem found; nothing has been written when it is raised."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


SUMMARY_MAX_CHARS = 300  # Question.summary's max_length


@dataclass(frozen=True)
class Article:
    path: Path
    title: str
    slug: str
    summary: str
    tags: list[str]
    body: str
    warnings: tuple[str, ...] = ()
    files: dict[str, bytes] = field(default_factory=dict)  # data files, from files/<slug>/


def summary_fit(text: str, limit: int = SUMMARY_MAX_CHARS) -> str:
    """A summary that fits ``limit`` characters without being cut mid-sentence:
    whole sentences if those kept are at least half the limit, else whole words and an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    sentence_ends = [
        i + 1 for i in range(limit) if text[i] in ".!?" and (i + 1 == len(text) or text[i + 1] == " ")
    ]
    if sentence_ends and sentence_ends[-1] >= limit // 2:
        return text[: sentence_ends[-1]]
    words = text[: limit - 1]
    if text[limit - 1] != " " and " " in words:
        words = words.rsplit(" ", 1)[0]
    return words.rstrip(" ,;:–—-") + "…"


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def split_front_matter(text: str) -> tuple[dict, str]:
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise ValueError("does not start with a front-matter block (---)")
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            meta = yaml.safe_load("".join(lines[1:end])) or {}
            if not isinstance(meta, dict):
                raise ValueError("front matter is not a mapping of keys to values")
            return meta, "".join(lines[end + 1 :]).lstrip("\n")
    raise ValueError("front matter is never closed with ---")


def read_article(path: Path) -> Article:
    try:
        meta, body = split_front_matter(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path.name}: {exc}") from exc
    title = str(meta.get("title") or "").strip()
    if not title:
        raise ValueError(f"{path.name}: missing title in front matter")
    slug = str(meta.get("slug") or slugify(title)).strip()
    if slug != slugify(slug):
        raise ValueError(f"{path.name}: slug {slug!r} is not a valid slug")
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    if not isinstance(tags, list):
        raise ValueError(f"{path.name}: tags must be a list")
    if not body.strip():
        raise ValueError(f"{path.name}: the answer body is empty")
    if problem := answer_size_problem(body):
        raise ValueError(f"{path.name}: {problem}")
    summary = " ".join(str(meta.get("summary") or "").split())
    fitted = summary_fit(summary)
    warnings = ()
    if fitted != summary:
        warnings = (
            f"{path.name}: the summary has {len(summary)} characters (at most {SUMMARY_MAX_CHARS}); "
            f"readers see {fitted!r}",
        )
    return Article(path, title[:200], slug[:200], fitted, [str(t) for t in tags], body, warnings)


def read_articles(directory: Path) -> list[Article]:
    paths = sorted(directory.glob("*.md"))
    if not paths:
        raise ArticleImportError([f"{directory}: no .md files found"])
    problems, articles, seen = [], [], {}
    for path in paths:
        try:
            article = read_article(path)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if article.slug in seen:
            problems.append(f"{path.name}: duplicate slug {article.slug!r} (also in {seen[article.slug]})")
            continue
        seen[article.slug] = path.name
        files, file_problems = read_files_dir(files_dir(path, article.slug))
        problems += [f"{path.name}: data file {problem}" for problem in file_problems]
        articles.append(replace(article, files=files))
    if problems:
        raise ArticleImportError(problems)
    return articles


def _question_matches(question: Question, article: Article) -> bool:
    current_tags = sorted(question.tags.values_list("name", flat=True))
    wanted_tags = sorted(t.name for t in tags_ensure(names=article.tags))
    body = Answer.objects.filter(question=question).values_list("body", flat=True).first()
    return (
        question.title == article.title
        and question.summary == article.summary
        and current_tags == wanted_tags
        and body == article.body
        and question.status == Question.Status.PUBLISHED
    )


@transaction.atomic
def articles_import(*, directory: Path, by=None) -> ImportReport:
    articles = read_articles(directory)
    report = ImportReport()
    for article in articles:
        report.warnings += article.warnings
        question = Question.objects.filter(slug=article.slug).first()
        # Approved figures live beside the file, content/figures/<slug>/cell-1-fig-1.png
        figures = read_approved_files(figures_dir(article.path, article.slug))
        if question is not None and _question_matches(question, article):
            new_files = data_files_set(question=question, files=article.files, by=by)
            if approvals_sync_from_files(question=question, files=figures, by=by) or new_files:
                answer_verify(answer=question.answer, twice=True)
                report.updated.append(article.slug)
            else:
                report.unchanged.append(article.slug)
            continue
        (report.updated if question else report.created).append(article.slug)
        question = question or Question(slug=article.slug, author=by)
        question.title = article.title
        question.summary = article.summary
        question.save()
        question.tags.set(tags_ensure(names=article.tags))
        # Before the save, so that the run it asks for already compares with them.
        rerun_needed = approvals_sync_from_files(question=question, files=figures, by=by)
        rerun_needed |= data_files_set(question=question, files=article.files, by=by)
        same_body = Answer.objects.filter(question=question, body=article.body).exists()
        answer = answer_save(question=question, body=article.body, by=by)
        if rerun_needed and same_body:
            # The body did not change, so answer_save ran nothing: new approvals or data files do.
            answer_verify(answer=answer, twice=True)
        question_publish(question=question)
        report.warnings += [
            f"{article.path.name}: line {e['line']}: {e['message']}" for e in answer.authoring_errors
        ]
    return report
