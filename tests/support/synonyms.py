"""The synonyms their data migration seeds, for tests whose database was flushed.

Transactional tests (live server, real workers) empty every table between tests, rows written
by data migrations included; running the migration's own function again restores them.
"""

import importlib

from django.apps import apps

MIGRATION = "kb.migrations.0007_seed_synonyms"


def seeded_synonyms() -> None:
    importlib.import_module(MIGRATION).seed(apps, None)
