"""Who voted, without knowing who: one client's votes on one answer on one day share a hash.

The hash is HMAC-SHA256 of (day, answer, network address) keyed with a random salt drawn for
that day and deleted when the day is over. While the day lasts it lets the site refuse a second
vote from the same client on the same answer; afterwards nobody, the site included, can tell
which address a hash came from or link two hashes of one reader (another answer or another day
gives an unrelated hash). The address itself is never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import DailySalt


def today() -> date:
    return timezone.localdate()


def _salt(day: date) -> str:
    salt = DailySalt.objects.filter(day=day).values_list("salt", flat=True).first()
    if salt is not None:
        return salt
    try:
        with transaction.atomic():
            DailySalt.objects.create(day=day, salt=secrets.token_hex(32))
    except IntegrityError:  # another request drew today's salt a moment ago: use theirs
        pass
    salts_purge(before=day)
    return DailySalt.objects.get(day=day).salt


def salts_purge(*, before: date) -> int:
    """Delete the salts of days that are over: their hashes can no longer be linked to anyone."""
    deleted, _ = DailySalt.objects.filter(day__lt=before).delete()
    return deleted


def voter_hash(*, answer_id: int, address: str, day: date) -> str:
    message = f"{day.isoformat()}|{answer_id}|{address}".encode()
    return hmac.new(_salt(day).encode(), message, hashlib.sha256).hexdigest()
