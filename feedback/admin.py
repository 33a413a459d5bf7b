"""Staff read reader feedback here: the inbox of votes and comments, and a report per answer."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from answers.models import Answer

from .models import Reason, Vote
from .selectors import answer_feedback_report
from .services import votes_mark_handled


class HandledFilter(admin.SimpleListFilter):
    title = "handled"
    parameter_name = "handled"

    def lookups(self, request, model_admin):
        return [("no", "Not handled"), ("yes", "Handled")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(handled_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(handled_at__isnull=False)
        return queryset


class CommentFilter(admin.SimpleListFilter):
    title = "comment"
    parameter_name = "has_comment"

    def lookups(self, request, model_admin):
        return [("yes", "With a comment"), ("no", "Without a comment")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(comment="")
        if self.value() == "no":
            return queryset.filter(comment="")
        return queryset


class ReasonFilter(admin.SimpleListFilter):
    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return Reason.choices

    def queryset(self, request, queryset):
        if self.value() in Reason.values:
            return queryset.filter(reasons__reason=self.value()).distinct()
        return queryset


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = [
        "question",
        "verdict",
        "reasons_given",
        "comment_excerpt",
        "revision_number",
        "created_at",
        "handled_mark",
    ]
    list_filter = [HandledFilter, CommentFilter, "helpful", ReasonFilter, "created_at"]
    search_fields = ["comment", "answer__question__title"]
    list_select_related = ["answer__question", "revision"]
    fields = [
        "question",
        "verdict",
        "reasons_given",
        "comment",
        "revision_number",
        "day",
        "created_at",
        "handled_at",
        "handled_by",
    ]
    readonly_fields = fields
    actions = ["mark_handled", "mark_not_handled"]
    ordering = ["-created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("reasons")

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "answer__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request):
        return False  # readers write feedback; staff only read and handle it

    @admin.display(description="Question", ordering="answer__question__title")
    def question(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:feedback_answer_report", args=[obj.answer_id]),
            obj.answer.question.title,
        )

    @admin.display(description="Helpful?", ordering="helpful")
    def verdict(self, obj):
        return "Yes" if obj.helpful else "No"

    @admin.display(description="Reasons")
    def reasons_given(self, obj):
        return "; ".join(r.get_reason_display() for r in obj.reasons.all()) or "–"

    @admin.display(description="Comment")
    def comment_excerpt(self, obj):
        return (obj.comment[:120] + "…") if len(obj.comment) > 120 else (obj.comment or "–")

    @admin.display(description="Revision", ordering="revision__number")
    def revision_number(self, obj):
        return obj.revision.number if obj.revision else "–"

    @admin.display(description="Handled", boolean=True, ordering="handled_at")
    def handled_mark(self, obj):
        return obj.handled

    @admin.action(description="Mark selected feedback as handled", permissions=["change"])
    def mark_handled(self, request, queryset):
        count = votes_mark_handled(votes=queryset, by=request.user)
        self.message_user(request, f"Marked {count} item(s) as handled.")

    @admin.action(description="Mark selected feedback as not handled", permissions=["change"])
    def mark_not_handled(self, request, queryset):
        count = votes_mark_handled(votes=queryset, by=request.user, handled=False)
        self.message_user(request, f"Marked {count} item(s) as not handled.")

    def get_urls(self):
        report = path(
            "answer/<int:answer_id>/",
            self.admin_site.admin_view(self.answer_report_view),
            name="feedback_answer_report",
        )
        return [report, *super().get_urls()]

    def answer_report_view(self, request, answer_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        answer = get_object_or_404(Answer.objects.select_related("question"), pk=answer_id)
        inbox = (
            reverse("admin:feedback_vote_changelist")
            + "?"
            + urlencode({"answer__id__exact": answer.pk, "has_comment": "yes", "handled": "no"})
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Reader feedback: {answer.question.title}",
            "answer": answer,
            "report": answer_feedback_report(answer=answer),
            "inbox_url": inbox,
        }
        return render(request, "admin/feedback/answer_report.html", context)


def with_vote_counts(questions):
    """Each question's votes and "Yes" votes, counted in the same query as the list."""
    votes = Vote.objects.filter(answer__question=OuterRef("pk")).order_by().values("answer__question")
    count = votes.annotate(n=Count("pk")).values("n")
    helpful = votes.filter(helpful=True).annotate(n=Count("pk")).values("n")
    return questions.annotate(
        vote_count=Coalesce(Subquery(count), 0), helpful_vote_count=Coalesce(Subquery(helpful), 0)
    )


def feedback_report_link(question) -> str:
    """For the question admin: the answer's votes at a glance, linking to its report."""
    answer = getattr(question, "answer", None)
    if answer is None or answer.pk is None:
        return "–"
    if hasattr(question, "vote_count"):  # the list annotates it (with_vote_counts)
        votes, helpful = question.vote_count, question.helpful_vote_count
    else:
        votes, helpful = answer.votes.count(), answer.votes.filter(helpful=True).count()
    if not votes:
        return "No votes yet"
    return format_html(
        '<a href="{}">{} vote{}, {}% helpful</a>',
        reverse("admin:feedback_answer_report", args=[answer.pk]),
        votes,
        "" if votes == 1 else "s",
        round(100 * helpful / votes),
    )
