"""Makes N published questions for benchmarks: tags, a summary and a prose answer of ~800 words.

Fast on purpose (bulk inserts, one UPDATE for the search vectors): 10,000 questions take about
a minute, where answer_save per question would render and index each one. The prose comes from
a small data-science vocabulary, so a common word ("gradient") matches most questions, as in a
large real knowledge base. The rows are what the site's services would store for a prose-only
answer: a revision, the published HTML and TOC, and the searchable text.

    DJANGO_SETTINGS_MODULE=config.settings .venv/bin/python bench/generate_questions.py 10000
"""

from __future__ import annotations

import random
import sys
from datetime import timedelta
from pathlib import Path

_PARAGRAPH = (
    "model data training loss gradient descent layer network neural weights bias tensor batch "
    "epoch learning rate optimizer convolution kernel filter stride padding pooling feature map "
    "activation function sigmoid relu softmax probability distribution sample mean variance "
    "regression classification logistic linear matrix vector dimension embedding attention "
    "transformer sequence token encoder decoder dropout regularization overfitting validation "
    "accuracy precision recall metric cluster tree forest boosting ensemble prediction label "
    "dataset split cross entropy likelihood bayesian prior posterior inference estimate error "
    "the a of to and in is that it for with as on by this we can be are from which when each "
    "every output input value values shape parameters memory speed result results example"
)
WORDS = _PARAGRAPH.split()
TAGS = [
    "cnn", "deep-learning", "pytorch", "numpy", "statistics", "regression", "classification",
    "optimisation", "nlp", "transformers", "clustering", "trees", "probability", "linear-algebra",
    "visualisation", "pandas", "evaluation", "regularisation", "embeddings", "time-series",
]  # fmt: skip


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 20))
    return " ".join(words).capitalize() + "."


def _answer(rng: random.Random, words: int) -> tuple[str, str, str, str]:
    """Markdown, HTML, TOC HTML and plain text of one answer, in sections of a few paragraphs."""
    body, html, toc, text = [], [], [], []
    count, section = 0, 0
    while count < words:
        section += 1
        heading = f"Part {section}: {rng.choice(WORDS)} and {rng.choice(WORDS)}"
        anchor = f"part-{section}"
        body.append(f"## {heading}\n")
        html.append(f'<h2 id="{anchor}">{heading}</h2>')
        toc.append(f'<li><a href="#{anchor}">{heading}</a></li>')
        text.append(heading)
        for _ in range(3):
            paragraph = " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))
            count += len(paragraph.split())
            body.append(paragraph + "\n")
            html.append(f"<p>{paragraph}</p>")
            text.append(paragraph)
    return "\n".join(body), "\n".join(html), f"<ul>{''.join(toc)}</ul>", "\n".join(text)


def generate(*, count: int, seed: int = 9, words: int = 800, batch: int = 500) -> int:
    from django.contrib.postgres.search import SearchVector
    from django.db import connection, transaction
    from django.utils import timezone

    from answers.models import Answer, Revision
    from kb.models import Question, Tag

    rng = random.Random(seed)
    Tag.objects.bulk_create([Tag(name=name, slug=name) for name in TAGS], ignore_conflicts=True)
    tags = list(Tag.objects.filter(slug__in=TAGS))
    through = Question.tags.through
    now = timezone.now()
    start = Question.objects.count()
    for first in range(0, count, batch):
        with transaction.atomic():
            made = []
            for n in range(first, min(first + batch, count)):
                i = start + n
                body, html, toc, text = _answer(rng, words)
                title = f"How does {rng.choice(WORDS)} {rng.choice(WORDS)} affect {rng.choice(WORDS)}? ({i})"
                question = Question(
                    title=title[:200],
                    slug=f"synthetic-{i}",
                    summary=_sentence(rng)[:300],
                    status=Question.Status.PUBLISHED,
                    published_at=now - timedelta(minutes=i),
                    search_document=text,
                )
                made.append((question, body, html, toc))
            Question.objects.bulk_create([q for q, *_ in made])
            answers = Answer.objects.bulk_create(
                [
                    Answer(
                        question=q,
                        body=body,
                        rendered_html=html,
                        toc_html=toc,
                        published_html=html,
                        published_toc_html=toc,
                        published_verified=True,
                    )
                    for q, body, html, toc in made
                ]
            )
            revisions = Revision.objects.bulk_create(
                [Revision(answer=a, number=1, body=a.body) for a in answers]
            )
            for answer, revision in zip(answers, revisions, strict=True):
                answer.published_revision = revision
            Answer.objects.bulk_update(answers, ["published_revision"])
            through.objects.bulk_create(
                [
                    through(question_id=q.pk, tag_id=tag.pk)
                    for q, *_ in made
                    for tag in rng.sample(tags, rng.randint(1, 3))
                ]
            )
    if connection.vendor == "postgresql":
        Question.objects.filter(slug__startswith="synthetic-", search_vector__isnull=True).update(
            search_vector=SearchVector("title", weight="A", config="english")
            + SearchVector("summary", weight="B", config="english")
            + SearchVector("search_document", weight="C", config="english")
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE kb_question")
    return count


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    print(f"{generate(count=int(sys.argv[1]))} questions generated")
