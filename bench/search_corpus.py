"""The corpus of the search benchmarks: the seeded articles of content/ among generated
distractor questions that share their vocabulary (titles, prose and code names).

Everything is inserted in bulk (bulk_create), not through answer_save and the runner: the
seeded articles' text and code are what publishing would index (answers.rendering's plain
text, the cells' code), and `kb.search_index.search_rebuild` then indexes all of it in a few
set-based statements, as `manage.py search_reindex` does. Distractors borrow the seeded
articles' own words and API names, so a query's words match many of them.
"""

from __future__ import annotations

import random
import re
from datetime import timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
GENERIC = [
    "model",
    "data",
    "training",
    "loss",
    "gradient",
    "descent",
    "layer",
    "network",
    "neural",
    "weights",
    "bias",
    "tensor",
    "batch",
    "epoch",
    "learning",
    "rate",
    "optimizer",
    "convolution",
    "kernel",
    "filter",
    "stride",
    "padding",
    "pooling",
    "feature",
    "map",
    "activation",
    "function",
    "sigmoid",
    "relu",
    "softmax",
    "probability",
    "distribution",
    "sample",
    "mean",
    "variance",
    "regression",
    "classification",
    "logistic",
    "linear",
    "matrix",
    "vector",
    "dimension",
    "embedding",
    "attention",
    "transformer",
    "sequence",
    "token",
    "encoder",
    "decoder",
    "dropout",
    "regularization",
    "overfitting",
    "validation",
    "accuracy",
    "precision",
    "recall",
    "metric",
    "cluster",
    "prediction",
    "label",
    "dataset",
    "split",
    "entropy",
    "inference",
    "every",
    "output",
    "input",
    "value",
    "shape",
    "parameters",
    "memory",
    "speed",
    "result",
    "example",
    "depth",
    "field",
    "channel",
]  # fmt: skip
CODE_NAMES = [
    "torch.randn", "torch.no_grad", "nn.Linear", "nn.Conv2d", "nn.Sequential", "nn.ReLU", "torch.tensor",
    "nn.Dropout", "nn.Embedding", "nn.LayerNorm", "nn.GELU", "torch.optim.Adam", "loss.backward",
    "optimizer.step", "optimizer.zero_grad", "model.train", "x.shape", "torch.zeros", "plt.subplots",
    "ax.plot", "nn.functional.softmax", "nn.LSTM", "nn.MultiheadAttention", "torch.cat", "x.view",
]  # fmt: skip
SYNTHETIC = "synthetic-"


def seeded_articles() -> list[dict]:
    from answers.cells import parse_answer
    from answers.rendering import render_answer

    articles = []
    for path in sorted((ROOT / "content").glob("*.md")):
        _, front, body = path.read_text(encoding="utf-8").lstrip("\ufeff").split("---", 2)
        meta = yaml.safe_load(front)
        articles.append(
            {
                "slug": meta["slug"],
                "title": meta["title"],
                "summary": meta.get("summary", "")[:300],
                "body": body.strip() + "\n",
                "text": render_answer(body).text,
                "code": "\n".join(c.code for c in parse_answer(body).cells),
            }
        )
    return articles


def shared_vocabulary(articles: list[dict]) -> list[str]:
    words = set(GENERIC)
    for article in articles:
        words.update(w for w in re.findall(r"[a-z]{4,}", (article["title"] + " " + article["text"]).lower()))
    return sorted(words)


def _distractor(rng: random.Random, i: int, vocabulary: list[str], words: int) -> dict:
    def sentence():
        return " ".join(rng.choices(vocabulary, k=rng.randint(8, 18))).capitalize() + "."

    prose = " ".join(sentence() for _ in range(max(1, words // 13)))
    body = f"## Part one\n\n{prose}\n"
    if rng.random() < 0.5:
        names = rng.sample(CODE_NAMES, 3)
        body += (
            "\n```python run\n" + "\n".join(f"y{n} = {name}(x)" for n, name in enumerate(names)) + "\n```\n"
        )
    a, b, c = rng.choices(vocabulary, k=3)
    return {
        "slug": f"{SYNTHETIC}{i}",
        "title": f"How does {a} {b} affect {c}? ({i})",
        "summary": sentence()[:300],
        "body": body,
        "text": f"Part one {prose}",
    }


def insert(rows: list[dict], *, start_minutes: int = 0) -> None:
    """Published questions with an answer and its revision, as publishing stores them."""
    from django.db import transaction
    from django.utils import timezone

    from answers.models import Answer, Revision
    from kb.models import Question

    now = timezone.now()
    with transaction.atomic():
        questions = Question.objects.bulk_create(
            [
                Question(
                    title=row["title"][:200],
                    slug=row["slug"],
                    summary=row["summary"],
                    status=Question.Status.PUBLISHED,
                    published_at=now - timedelta(minutes=start_minutes + n),
                    search_document=row["text"].replace("<", "< "),
                )
                for n, row in enumerate(rows)
            ]
        )
        answers = Answer.objects.bulk_create(
            [
                Answer(question=q, body=row["body"], published_html="", published_verified=True)
                for q, row in zip(questions, rows, strict=True)
            ]
        )
        revisions = Revision.objects.bulk_create([Revision(answer=a, number=1, body=a.body) for a in answers])
        for answer, revision in zip(answers, revisions, strict=True):
            answer.published_revision = revision
        Answer.objects.bulk_update(answers, ["published_revision"], batch_size=2000)


def build(*, distractors: int, words: int = 150, seed: int = 19, batch: int = 2000) -> list[dict]:
    """Insert the seeded articles and `distractors` generated questions (the seeded ones in
    the middle of the dates, neither newest nor oldest); returns the seeded articles."""
    articles = seeded_articles()
    vocabulary = shared_vocabulary(articles)
    rng = random.Random(seed)
    half = distractors // 2
    made = 0
    for first in range(0, distractors, batch):
        rows = [_distractor(rng, i, vocabulary, words) for i in range(first, min(first + batch, distractors))]
        if first <= half < first + len(rows):
            insert(articles, start_minutes=half)
        insert(rows, start_minutes=first + (len(articles) if first > half else 0))
        made += len(rows)
    if distractors == 0:
        insert(articles)
    return articles
