"""Counting, done by the site itself: no third party ever sees a page view."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kb.models import Question

from .models import ArticleViewDay


def visitor_id_new() -> str:
    return secrets.token_urlsafe(16)


def _first_visit_today(*, visitor_id: str, question_id: int, day) -> bool:
    # Only a keyed hash of (visitor, article, day) is kept, in the cache, until the day is over.
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{visitor_id}:{question_id}:{day}".encode(), hashlib.sha256
    ).hexdigest()[:32]
    try:
        return cache.add(f"analytics:seen:{digest}", 1, timeout=26 * 3600)
    except Exception:  # the cache is down: still count the view, not the visitor
        return False


def article_view_record(*, slug: str, visitor_id: str) -> bool:
    """Count one view of a published article; False when there is no such article."""
    question_id = Question.objects.published().filter(slug=slug).values_list("pk", flat=True).first()
    if question_id is None:
        return False
    day = timezone.now().date()
    new_visitor = int(_first_visit_today(visitor_id=visitor_id, question_id=question_id, day=day))
    rows = ArticleViewDay.objects.filter(question_id=question_id, day=day)
    if not rows.update(views=F("views") + 1, visitors=F("visitors") + new_visitor):
        try:
            with transaction.atomic():
                ArticleViewDay.objects.create(question_id=question_id, day=day, views=1, visitors=new_visitor)
        except IntegrityError:  # another request created today's row first
            rows.update(views=F("views") + 1, visitors=F("visitors") + new_visitor)
    return True
