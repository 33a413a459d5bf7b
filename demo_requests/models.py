from django.db import models


class DemoRequestStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    QUALIFIED = "qualified", "Qualified"
    CLOSED = "closed", "Closed"


class EmailKind(models.TextChoices):
    SALES = "sales", "Notification to sales"
    CONFIRMATION = "confirmation", "Confirmation to the requester"


class DemoRequest(models.Model):
    name = models.CharField(max_length=120)
    email = models.EmailField("work e-mail", max_length=254)
    company = models.CharField(max_length=160)
    role = models.CharField(max_length=120, blank=True)
    message = models.TextField(blank=True)
    consent_to_contact = models.BooleanField(default=False)
    # The article the visitor came from; the slug survives the article being deleted.
    source_question = models.ForeignKey(
        "kb.Question",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="demo_requests",
        verbose_name="source article",
    )
    source_slug = models.CharField("source slug", max_length=200, blank=True)
    status = models.CharField(max_length=12, choices=DemoRequestStatus.choices, default=DemoRequestStatus.NEW)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # E-mail delivery, written by services only: the sweep re-queues what is still unsent.
    sales_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    emails_queued_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.company})"

    def unsent(self) -> list[str]:
        kinds = []
        if self.sales_notified_at is None:
            kinds.append(EmailKind.SALES.value)
        if self.confirmation_sent_at is None:
            kinds.append(EmailKind.CONFIRMATION.value)
        return kinds
