from django.db import models


class ArticleViewDay(models.Model):
    """Page views of one article on one day (UTC), counted by the site for visitors who agreed.

    Only totals are kept: no visitor id, address or page history is stored in the database.
    """

    question = models.ForeignKey("kb.Question", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    views = models.PositiveIntegerField(default=0)
    visitors = models.PositiveIntegerField(default=0, help_text="Distinct analytics cookies that day.")

    class Meta:
        verbose_name = "article views per day"
        verbose_name_plural = "article views per day"
        ordering = ["-day", "-views"]
        constraints = [
            models.UniqueConstraint(fields=["question", "day"], name="analytics_one_row_per_article_day")
        ]

    def __str__(self) -> str:
        return f"{self.question_id} on {self.day}: {self.views}"
