from django.conf import settings
from django.db import models

from kb.models import Question


class ReviewMark(models.Model):
    """Staff read the published answer and found it right: never edited, so the history stays."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="review_marks")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField()
    revision_number = models.PositiveIntegerField(null=True, help_text="The published revision reviewed.")

    class Meta:
        ordering = ["-reviewed_at", "-pk"]

    def __str__(self) -> str:
        return f"Reviewed {self.question} on {self.reviewed_at:%d %b %Y}"
