from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse


class Tag(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("kb:tag", args=[self.slug])


class QuestionQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=Question.Status.PUBLISHED)


class Question(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    class ReviewState(models.TextChoices):
        """Where the latest revision stands: readers see only an approved one (answers.reviews)."""

        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    summary = models.CharField(max_length=300, blank=True)
    tags = models.ManyToManyField(Tag, related_name="questions", blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    allow_unverified = models.BooleanField(
        "publish even if not verified",
        default=False,
        help_text="Show the latest revision to readers even when its cells did not verify. "
        "The page then states plainly that its outputs are not verified.",
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    review_state = models.CharField(
        max_length=12, choices=ReviewState.choices, default=ReviewState.DRAFT, editable=False
    )
    # Content health (content_health/): who keeps the answer right, and how often it is reviewed.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_questions",
        limit_choices_to={"is_staff": True},
        help_text="The staff member who reviews this answer and receives its weekly digest.",
    )
    review_interval_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Days between reviews; empty for the site's default (CONTENT_REVIEW_INTERVAL_DAYS, 180).",
    )
    # Set by content_health.services.question_mark_reviewed only; its history is ReviewMark.
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    # Plain text of the answer, kept by answers.services for search and excerpts.
    search_document = models.TextField(blank=True, editable=False)
    # Filled on PostgreSQL only (kb.services.question_reindex); SQLite searches with LIKE.
    search_vector = SearchVectorField(null=True, editable=False)
    # The published cells' identifiers, whole and split (kb.search_index), space-separated.
    search_code = models.TextField(blank=True, editable=False)
    # Title, summary and code names, not the prose: their matches are always ranked (PostgreSQL).
    key_vector = SearchVectorField(null=True, editable=False)

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-created_at"]
        indexes = [models.Index(fields=["status", "-published_at"])]
        # Authors without it can only submit a revision for review; the "Reviewers" group has it.
        permissions = [("can_publish", "Can publish questions and approve their reviews")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("kb:question", args=[self.slug])


class SearchQueryDay(models.Model):
    """How often one normalised query was searched on one day: the search report.

    Nothing identifies who searched: only the query text, the day, counts, and the number of
    results the latest search found.
    """

    query = models.CharField(max_length=200)
    day = models.DateField()
    searches = models.PositiveIntegerField(default=0)
    results = models.PositiveIntegerField(default=0, help_text="Results the latest search that day found.")
    opens = models.PositiveIntegerField(
        default=0, help_text="Results opened from this query's results that day."
    )

    class Meta:
        verbose_name = "search report"
        verbose_name_plural = "search report"
        constraints = [models.UniqueConstraint(fields=["query", "day"], name="kb_searchqueryday_query_day")]
        indexes = [models.Index(fields=["day", "results"], name="kb_searchqueryday_day_results")]

    def __str__(self) -> str:
        return f"{self.query} ({self.day})"


class Synonym(models.Model):
    """Words a reader may type for the same thing (CNN = convolutional neural network).

    Applied at query time, in both directions: a query containing any term of a row also
    finds the articles that use the row's other terms.
    """

    terms = models.CharField(
        max_length=300,
        unique=True,
        help_text="Comma-separated terms that mean the same, e.g. "
        '"CNN, convnet, convolutional neural network". Case does not matter.',
    )

    class Meta:
        ordering = ["terms"]

    def __str__(self) -> str:
        return self.terms

    def term_list(self) -> list[str]:
        return [" ".join(t.lower().split()) for t in self.terms.split(",") if t.strip()]


class SearchLexeme(models.Model):
    """A word of the published articles (titles, summaries, prose, code identifiers), with
    how many published questions use it: the vocabulary typos are corrected against."""

    word = models.CharField(max_length=100, primary_key=True)
    questions = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.word
