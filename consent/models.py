import uuid

from django.db import models


class ConsentAction(models.TextChoices):
    ACCEPT_ALL = "accept_all", "Accept all"
    REJECT_ALL = "reject_all", "Reject all"
    CUSTOMISE = "customise", "Customised"


class ConsentRecord(models.Model):
    """Proof of one choice made in the banner or the settings panel.

    A random id (also in the visitor's consent cookie), what was chosen, under which policy
    version, and when. No IP address, user agent or account is stored.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    choices = models.JSONField(help_text="Each category and whether it was allowed.")
    policy_version = models.CharField(max_length=40)
    action = models.CharField(max_length=12, choices=ConsentAction.choices)
    # The browser sent Sec-GPC: 1 (Global Privacy Control), which this site reads as a refusal.
    gpc = models.BooleanField("Global Privacy Control", default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return (
            f"{self.get_action_display()} · policy {self.policy_version} · {self.created_at:%Y-%m-%d %H:%M}"
        )
