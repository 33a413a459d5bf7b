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
    # What readers see: the latest revision that verified (or was published by override).
    published_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    published_html = models.TextField(blank=True, editable=False)
    published_toc_html = models.TextField(blank=True, editable=False)
    published_verified = models.BooleanField(default=False, editable=False)
    published_run = models.ForeignKey(
        "runner.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # The newest revision someone who may publish approved (or saved): only it can be published.
    approved_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # Set when a re-verification of the published revision failed; cleared when it passes again.
    stopped_passing_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self) -> str:
        return f"Answer to {self.question}"

    @property
    def has_unpublished_changes(self) -> bool:
        return self.published_revision_id is None or self.published_html != self.rendered_html


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


class ReviewEvent(models.Model):
    """One step of a question's review, never edited: the history shown on its admin page."""

    class Action(models.TextChoices):
        SUBMITTED = "submitted", "Submitted for review"
        REVISED = "revised", "Revised while in review"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved"
        SAVED_BY_PUBLISHER = "saved_by_publisher", "Saved and approved by a publisher"

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="review_events")
    revision = models.ForeignKey(
        Revision, null=True, blank=True, on_delete=models.SET_NULL, related_name="review_events"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    comment = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["question", "-at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.question_id})"


class Reproduction(models.Model):
    """A reader's "Run again" of a published answer: a fresh run past the cache."""

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="reproductions")
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey("runner.Run", on_delete=models.CASCADE, related_name="+")
    verified_run = models.ForeignKey("runner.Run", null=True, on_delete=models.SET_NULL, related_name="+")
    client = models.CharField(max_length=64, help_text="Keyed hash of the client address.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Reproduction {self.pk} of {self.answer}"


def approved_figure_path(instance: "FigureApproval", filename: str) -> str:
    return f"approved/{instance.sha256[:2]}/{instance.sha256}.png"


class FigureApproval(models.Model):
    """Staff approved this image for figure `position` of cell `cell_index`.

    Never edited: approving again adds a row, so the history stays; the newest row for a
    (question, cell, figure) is the one later runs are compared with. Keyed by question rather
    than answer so an import can carry approvals before the answer's first save.
    """

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="figure_approvals")
    revision = models.ForeignKey(
        Revision, null=True, blank=True, on_delete=models.SET_NULL, related_name="figure_approvals"
    )
    cell_index = models.PositiveIntegerField()
    position = models.PositiveIntegerField(help_text="The figure's place among its cell's figures.")
    sha256 = models.CharField(max_length=64)
    image = models.FileField(upload_to=approved_figure_path, max_length=200)
    source_run = models.ForeignKey(
        "runner.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    origin = models.CharField(max_length=20, default="admin", help_text="admin, import or notebook")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    approved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["question", "cell_index", "position", "-approved_at", "-pk"]
        indexes = [models.Index(fields=["question", "cell_index", "position"])]

    def __str__(self) -> str:
        return f"Approved figure {self.position + 1} of cell {self.cell_index + 1} ({self.question_id})"


class AnswerFile(models.Model):
    """A small data file the answer's cells read, read-only, from their working directory.

    Keyed by question, as approvals are, so an import can attach files before the answer's
    first save. Its content hash is part of the answer's execution key (answers/datafiles.py)."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="data_files")
    name = models.CharField(max_length=100, help_text="The file name cells open, e.g. names.txt.")
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    uploaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["question", "name"]
        constraints = [models.UniqueConstraint(fields=["question", "name"], name="one_data_file_per_name")]

    def __str__(self) -> str:
        return self.name


class AnswerDraft(models.Model):
    """What an author has typed in the answer editor and not yet saved, kept as they type so a
    closed tab loses nothing. One per author and question; ``question`` is null for a question
    not yet added (one such draft per author). Deleted when the author saves the question."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="answer_drafts"
    )
    question = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.CASCADE, related_name="answer_drafts"
    )
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["author", "question"], name="one_draft_per_author_and_question"),
            models.UniqueConstraint(
                fields=["author"],
                condition=models.Q(question__isnull=True),
                name="one_new_answer_draft_per_author",
            ),
        ]

    def __str__(self) -> str:
        return f"Draft by {self.author_id} of {self.question_id or 'a new question'}"
