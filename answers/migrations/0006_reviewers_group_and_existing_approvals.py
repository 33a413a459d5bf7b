"""The "Reviewers" group (who may publish), and every existing answer's latest revision approved.

Before review existed every save was published once it verified; approving each answer's latest
revision keeps that behaviour for what is already there. Permissions are created after all
migrations run, so this one creates those it grants first.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import OuterRef, Subquery

REVIEWER_PERMISSIONS = [
    ("kb", "question", "can_publish"),
    ("kb", "question", "add_question"),
    ("kb", "question", "change_question"),
    ("kb", "question", "view_question"),
    ("kb", "tag", "view_tag"),
    ("answers", "answer", "add_answer"),
    ("answers", "answer", "change_answer"),
    ("answers", "answer", "view_answer"),
    ("answers", "revision", "view_revision"),
    ("answers", "reviewevent", "view_reviewevent"),
]


def forwards(apps, schema_editor):
    for label in ("kb", "answers"):
        config = apps.get_app_config(label)
        models_module = getattr(config, "models_module", None)
        config.models_module = models_module or True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    reviewers, _ = Group.objects.get_or_create(name="Reviewers")
    for app_label, model, codename in REVIEWER_PERMISSIONS:
        reviewers.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, content_type__model=model, codename=codename)
        )
    Answer = apps.get_model("answers", "Answer")
    Revision = apps.get_model("answers", "Revision")
    latest = Revision.objects.filter(answer=OuterRef("pk")).order_by("-number").values("pk")[:1]
    Answer.objects.update(approved_revision=Subquery(latest))
    Question = apps.get_model("kb", "Question")
    Question.objects.filter(answer__approved_revision__isnull=False).update(review_state="approved")


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Reviewers").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("answers", "0005_review_events_and_approved_revision"),
        ("kb", "0009_question_review_state_and_can_publish"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
