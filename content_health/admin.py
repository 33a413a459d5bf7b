"""Content health in the admin: a list filter and a "Mark reviewed" action for the question
list, the "Content health" page with counts and lists, and the history of reviews."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from kb.models import Question

from .models import ReviewMark
from .selectors import STATES, content_health_summary, questions_without_owner, review_due_at
from .services import question_mark_reviewed, questions_mark_reviewed


class ContentHealthFilter(admin.SimpleListFilter):
    title = "content health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return STATES

    def queryset(self, request, queryset):
        from .selectors import questions_in_state

        if self.value() in dict(STATES):
            return questions_in_state(self.value(), queryset)
        return queryset


class ContentHealthAdminMixin:
    """Added to the question admin: its filter, bulk action, page and per-question button."""

    @admin.action(description="Mark selected questions reviewed", permissions=["change"])
    def mark_reviewed(self, request, queryset):
        count = questions_mark_reviewed(questions=queryset, by=request.user)
        skipped = queryset.count() - count
        text = f"Marked {count} question(s) reviewed."
        if skipped:
            text += f" {skipped} not published, left alone."
        self.message_user(request, text)

    @admin.display(description="Content reviews")
    def content_review_history(self, obj):
        # Read-only text rather than an inline: an inline would add a formset that every post
        # of the question form (and every script that posts it) would have to carry.
        marks = list(obj.review_marks.select_related("reviewed_by")[:10]) if obj.pk else []
        if not marks:
            return "Never reviewed."
        items = format_html_join(
            "",
            "<li>{} by {}{}</li>",
            (
                (
                    m.reviewed_at.strftime("%-d %b %Y %H:%M"),
                    m.reviewed_by or "a deleted user",
                    f" (revision {m.revision_number})" if m.revision_number else "",
                )
                for m in marks
            ),
        )
        history = reverse("admin:content_health_reviewmark_changelist") + f"?question__id__exact={obj.pk}"
        return format_html('<ul class="review-history">{}</ul><a href="{}">All reviews</a>', items, history)

    @admin.display(description="Review due")
    def review_due(self, obj):
        due = review_due_at(obj) if obj.status == Question.Status.PUBLISHED else None
        return due.strftime("%-d %b %Y") if due else "–"

    def content_health_urls(self):
        site = self.admin_site
        return [
            path(
                "content-health/",
                site.admin_view(self.content_health_view),
                name="kb_question_content_health",
            ),
            path(
                "<int:pk>/mark-reviewed/",
                site.admin_view(require_POST(self.mark_reviewed_view)),
                name="kb_question_mark_reviewed",
            ),
        ]

    def content_health_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": Question._meta,
            "title": "Content health",
            "states": content_health_summary(),
            "without_owner": questions_without_owner().count(),
            "can_mark": self.has_change_permission(request),
            "default_interval": settings.CONTENT_REVIEW_INTERVAL_DAYS,
            "due_soon_days": settings.CONTENT_REVIEW_DUE_SOON_DAYS,
        }
        return render(request, "admin/content_health/health.html", context)

    def mark_reviewed_view(self, request, pk: int):
        if not self.has_change_permission(request):
            raise PermissionDenied
        question = get_object_or_404(Question, pk=pk)
        if question_mark_reviewed(question=question, by=request.user):
            messages.success(request, f"Marked “{question.title}” reviewed.")
        else:
            messages.warning(request, f"“{question.title}” is not published: there is nothing to review yet.")
        back = request.POST.get("next", "")
        if back not in ("health", "change"):
            back = "health"
        if back == "change":
            return redirect("admin:kb_question_change", pk)
        return redirect(reverse("admin:kb_question_content_health"))


@admin.register(ReviewMark)
class ReviewMarkAdmin(admin.ModelAdmin):
    list_display = ["question", "reviewed_by", "reviewed_at", "revision_number"]
    list_filter = ["reviewed_at", "reviewed_by"]
    search_fields = ["question__title"]
    list_select_related = ["question", "reviewed_by"]
    readonly_fields = ["question", "reviewed_by", "reviewed_at", "revision_number"]

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "question__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the history of who reviewed what is kept
