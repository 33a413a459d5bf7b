from django.conf import settings
from django.db import models

from answers.models import Answer, Revision


class Reason(models.TextChoices):
    WRONG = "wrong", "The code or output is wrong"
    OUTDATED = "outdated", "It is out of date"
    DETAIL = "detail", "It needs more detail"
    UNCLEAR = "unclear", "It is hard to understand"
    BROKEN = "broken", "A link or figure is broken"


# Reasons that say the answer itself may be false, not only hard to use: content health flags them.
FLAGGING_REASONS = (Reason.WRONG, Reason.OUTDATED)
COMMENT_MAX_LENGTH = 1000


class Vote(models.Model):
    """One reader's "Was this helpful?" on one answer, on the revision they read.

    Nothing here identifies the reader: `voter` is a keyed hash of (day, answer, address) under
    that day's random salt (feedback.identity), only there so that one client votes once per
    answer per day; the salt is deleted once its day is over, after which no one can link the
    hash to an address, to another answer or to another day.
    """

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="votes")
    revision = models.ForeignKey(Revision, null=True, on_delete=models.SET_NULL, related_name="votes")
    helpful = models.BooleanField()
    comment = models.TextField(blank=True, max_length=COMMENT_MAX_LENGTH)
    day = models.DateField()
    voter = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    explained_at = models.DateTimeField(null=True, blank=True, editable=False)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["answer", "day", "voter"], name="one_vote_per_client_answer_day")
        ]
        indexes = [models.Index(fields=["answer", "created_at"])]

    def __str__(self) -> str:
        return f"{'Helpful' if self.helpful else 'Not helpful'}: {self.answer.question}"

    @property
    def handled(self) -> bool:
        return self.handled_at is not None


class VoteReason(models.Model):
    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="reasons")
    reason = models.CharField(max_length=20, choices=Reason.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vote", "reason"], name="one_reason_per_vote")]

    def __str__(self) -> str:
        return self.get_reason_display()


class DailySalt(models.Model):
    """The random key of one day's voter hashes; deleted when the day is over."""

    day = models.DateField(unique=True)
    salt = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"Salt of {self.day}"
