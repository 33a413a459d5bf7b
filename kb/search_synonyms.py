"""The synonym table, kept in each process: every search and suggestion needs it, and it
changes only when an editor saves or deletes a row in the admin.

The copy is stamped with the page cache's generation (kb.page_cache), which each process
already holds without a round trip while nothing changes. Saving or deleting a synonym bumps
that generation (now and at commit, like any change readers can see), so every process reads
the table again on its next search.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from . import page_cache
from .models import Synonym

_kept: tuple[int, list[list[str]]] | None = None


def synonym_rows() -> list[list[str]]:
    """Each row's terms; read from the database only after a change (a few dozen short rows)."""
    global _kept
    stamp = page_cache.generation()  # read before the rows: a change after it bumps it again
    if _kept is None or _kept[0] != stamp:
        _kept = (stamp, [row.term_list() for row in Synonym.objects.all()])
    return _kept[1]


def _synonyms_changed(**_kwargs) -> None:
    global _kept
    _kept = None
    page_cache.pages_changed()


post_save.connect(_synonyms_changed, sender=Synonym, dispatch_uid="kb.search_synonyms.saved")
post_delete.connect(_synonyms_changed, sender=Synonym, dispatch_uid="kb.search_synonyms.deleted")
