from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
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
    # Plain text of the answer, kept by answers.services for search and excerpts.
    search_document = models.TextField(blank=True, editable=False)
    # Filled on PostgreSQL only (kb.services.question_reindex); SQLite searches with LIKE.
    search_vector = SearchVectorField(null=True, editable=False)

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
