from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.clickjacking import xframe_options_sameorigin

from answers.admin import AnswerAdminMixin, AnswerInline, VerificationFilter, answer_save_from_formset
from answers.admin_datafiles import AnswerFileInline
from answers.admin_review import review_urls
from answers.models import ReviewEvent
from answers.reviews import user_can_publish
from content_health.admin import ContentHealthAdminMixin, ContentHealthFilter
from feedback.admin import feedback_report_link, with_vote_counts

from .models import Question, Tag
from .page_cache import pages_changed
from .services import question_publish, question_search_refresh


class PublicPagesAdminMixin:
    """Staff edits here show on the very next public request: titles, summaries,
    tags and status appear on many cached pages (lists, tags, related questions, the feed)."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # m2m (tags) are saved here
        pages_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        pages_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        pages_changed()


@admin.register(Tag)
class TagAdmin(PublicPagesAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Question)
class QuestionAdmin(PublicPagesAdminMixin, AnswerAdminMixin, ContentHealthAdminMixin, admin.ModelAdmin):
    list_display = [
        "title",
        "status",
        "review_state",
        "verification_status",
        "owner",
        "review_due",
        "reader_feedback",
        "published_at",
        "updated_at",
        "preview_link",
    ]
    list_filter = [
        "status",
        "review_state",
        VerificationFilter,
        ContentHealthFilter,
        "owner",
        "tags",
        "published_at",
    ]
    list_select_related = ["owner", "answer__run"]
    search_fields = ["title", "summary", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["tags"]
    readonly_fields = [
        "created_at",
        "updated_at",
        "published_at",
        "preview_link",
        "review",
        "review_history",
        "review_due",
        "reviewed_at",
        "reviewed_by",
        "content_review_history",
        "reader_feedback",
    ]
    fields = [
        "title",
        "slug",
        "summary",
        "tags",
        "status",
        "allow_unverified",
        "author",
        "owner",
        "review_interval_days",
        "review_due",
        "reviewed_at",
        "reviewed_by",
        "content_review_history",
        "reader_feedback",
        "preview_link",
        "review",
        "review_history",
        "created_at",
        "updated_at",
        "published_at",
    ]
    inlines = [AnswerInline, AnswerFileInline]
    actions = ["publish_selected", "verify_now", "mark_reviewed"]
    change_list_template = "admin/kb/question/change_list.html"
    change_form_template = "admin/kb/question/change_form.html"

    @admin.display(description="Preview")
    def preview_link(self, obj):
        if not obj.pk:
            return "Save first to preview."
        return format_html(
            '<a href="{}">Preview the rendered answer</a>',
            reverse("admin:kb_question_preview", args=[obj.pk]),
        )

    # Publishing is the "can publish" permission's: without it the status, the override and,
    # once readers can see the question, what they see of it outside the answer's revisions
    # (title, slug, summary, tags) are read-only, and the publish action is not offered.
    PUBLISHER_FIELDS = ["status", "allow_unverified"]
    LIVE_FIELDS = ["title", "slug", "summary", "tags"]

    def has_publish_permission(self, request, obj=None) -> bool:
        # Django grants an action if any one of its permissions holds: both are checked here.
        return self.has_change_permission(request, obj) and user_can_publish(request.user)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not self.has_publish_permission(request):
            fields += self.PUBLISHER_FIELDS
            if obj is not None and obj.status == Question.Status.PUBLISHED:
                fields += self.LIVE_FIELDS
        return fields

    def get_prepopulated_fields(self, request, obj=None):
        readonly = self.get_readonly_fields(request, obj)
        return {k: v for k, v in super().get_prepopulated_fields(request, obj).items() if k not in readonly}

    @admin.display(description="Review")
    def review(self, obj):
        if not obj or not obj.pk:
            return "Save first: then submit it for review."
        return format_html(
            '{} · <a href="{}">Review the changes against the published revision</a>',
            obj.get_review_state_display(),
            reverse("admin:kb_question_review", args=[obj.pk]),
        )

    @admin.display(description="Review history")
    def review_history(self, obj):
        if not obj or not obj.pk:
            return "–"
        history = ReviewEvent.objects.filter(question=obj).select_related("by", "revision")[:100]
        return render_to_string("admin/kb/question/review_history.html", {"history": history})

    def get_urls(self):
        preview = path(
            "<int:pk>/preview/", self.admin_site.admin_view(self.preview_view), name="kb_question_preview"
        )
        frame = path(
            "<int:pk>/preview/frame/",
            self.admin_site.admin_view(xframe_options_sameorigin(self.preview_frame_view)),
            name="kb_question_preview_frame",
        )
        return [
            preview,
            frame,
            *self.answer_urls(),
            *review_urls(self),
            *self.content_health_urls(),
            *super().get_urls(),
        ]

    def preview_view(self, request, pk: int):
        # The admin chrome holds a frame with the article in the site's own page: the site's
        # stylesheet never reaches the admin, and the admin's never reaches the article.
        # The draft's text: only for staff who may view questions.
        if not self.has_view_permission(request):
            raise PermissionDenied
        question = get_object_or_404(Question, pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "question": question,
            "answer": getattr(question, "answer", None),
            "opts": self.model._meta,
            "title": "Preview",
        }
        return render(request, "admin/kb/question/preview.html", context)

    def preview_frame_view(self, request, pk: int):
        if not self.has_view_permission(request):  # a draft's text (the same check as for the cell outputs)
            raise PermissionDenied
        question = get_object_or_404(Question, pk=pk)
        context = {
            "question": question,
            "answer": getattr(question, "answer", None),
            "hide_consent_banner": True,
        }
        return render(request, "admin/kb/question/preview_frame.html", context)

    def get_queryset(self, request):
        return with_vote_counts(super().get_queryset(request))

    @admin.display(description="Reader feedback")
    def reader_feedback(self, obj):
        return feedback_report_link(obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.author = obj.author or request.user
        if not change and not self.has_publish_permission(request):
            obj.status, obj.allow_unverified = Question.Status.DRAFT, False  # read-only for them too
        if obj.owner is None and obj.status == Question.Status.PUBLISHED:
            obj.owner = obj.author if obj.author and obj.author.is_staff else request.user
        super().save_model(request, obj, form, change)
        if obj.status == Question.Status.PUBLISHED and obj.published_at is None:
            question_publish(question=obj)
        question_search_refresh(question=obj)  # a new title or summary is searchable at once

    def save_formset(self, request, form, formset, change):
        if formset.model._meta.label == "answers.Answer":
            answer_save_from_formset(formset=formset, question=form.instance, by=request.user)
        elif formset.model._meta.label == "answers.AnswerFile":
            # Saved before the answer (AnswerAdminMixin.save_related), so the answer's run has them.
            request._data_files_changed = formset.save_through_service(
                question=form.instance, by=request.user
            )
        else:
            super().save_formset(request, form, formset, change)

    @admin.action(description="Publish selected questions", permissions=["publish"])
    def publish_selected(self, request, queryset):
        for question in queryset:
            question_publish(question=question)
        self.message_user(request, f"Published {queryset.count()} question(s).")


from . import admin_search  # noqa: E402, F401  (registers the search report and synonyms)
