from django.conf import settings
from django.db import models

from kb.models import Question


class Answer(models.Model):
    """The current Markdown of a question's answer and its HTML, rendered once on save."""

    question = models.OneToOneField(Question, on_delete=models.CASCADE, related_name="answer")
    body = models.TextField(help_text="Markdown. ```python run cells are executed by the runner.")
    rendered_html = models.TextField(blank=True, editable=False)
    toc_html = models.TextField(blank=True, editable=False)
    authoring_errors = models.JSONField(default=list, blank=True, editable=False)
    cells_key = models.CharField(max_length=64, blank=True, editable=False)
    cell_count = models.PositiveIntegerField(default=0, editable=False)
    # The run of the current body's cells (shared with any answer whose cells are the same).
    run = models.ForeignKey(
        "runner.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self) -> str:
        return f"Answer to {self.question}"


class Revision(models.Model):
    """Every saved version of an answer's Markdown, never edited after it is written."""

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    body = models.TextField()
    run = models.ForeignKey(
        "runner.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["answer", "number"], name="unique_revision_number")]

    def __str__(self) -> str:
        return f"Revision {self.number} of {self.answer.question}"
