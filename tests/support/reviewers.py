"""The "Reviewers" group as its data migration makes it, for tests whose database was flushed.

Transactional tests (live server, real workers) empty every table between tests, rows written
by data migrations included; running the migration's own function again restores the group.
"""

import importlib

from django.apps import apps
from django.contrib.auth.models import Group

MIGRATION = "answers.migrations.0006_reviewers_group_and_existing_approvals"


def reviewers_group() -> Group:
    importlib.import_module(MIGRATION).forwards(apps, None)
    return Group.objects.get(name="Reviewers")
