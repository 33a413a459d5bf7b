from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.clickjacking import xframe_options_sameorigin

from answers.admin import AnswerAdminMixin, AnswerInline, VerificationFilter, answer_save_from_formset

from .models import Question, Tag
from .page_cache import pages_changed
from .services import question_publish, question_search_refresh


class PublicPagesAdminMixin:
    """Staff edits here show on the very next public request (issue 9): titles, summaries,
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
class QuestionAdmin(PublicPagesAdminMixin, AnswerAdminMixin, admin.ModelAdmin):
    list_display = ["title", "status", "verification_status", "published_at", "updated_at", "preview_link"]
    list_filter = ["status", VerificationFilter, "tags", "published_at"]
    search_fields = ["title", "summary", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["tags"]
    readonly_fields = ["created_at", "updated_at", "published_at", "preview_link"]
    fields = [
        "title",
        "slug",
        "summary",
        "tags",
        "status",
        "allow_unverified",
        "author",
        "preview_link",
        "created_at",
        "updated_at",
        "published_at",
    ]
    inlines = [AnswerInline]
    actions = ["publish_selected", "verify_now"]
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

    def get_urls(self):
        preview = path(
            "<int:pk>/preview/", self.admin_site.admin_view(self.preview_view), name="kb_question_preview"
        )
        frame = path(
            "<int:pk>/preview/frame/",
            self.admin_site.admin_view(xframe_options_sameorigin(self.preview_frame_view)),
            name="kb_question_preview_frame",
        )
        return [preview, frame, *self.answer_urls(), *super().get_urls()]

    def preview_view(self, request, pk: int):
        # The admin chrome holds a frame with the article in the site's own page: the site's
        # stylesheet never reaches the admin, and the admin's never reaches the article.
        # The draft's text: only for staff who may view questions (issue 8 item 5).
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
        if not self.has_view_permission(request):  # a draft's text (the same check as issue 8's)
            raise PermissionDenied
        question = get_object_or_404(Question, pk=pk)
        context = {
            "question": question,
            "answer": getattr(question, "answer", None),
            "hide_consent_banner": True,
        }
        return render(request, "admin/kb/question/preview_frame.html", context)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.author = obj.author or request.user
        super().save_model(request, obj, form, change)
        if obj.status == Question.Status.PUBLISHED and obj.published_at is None:
            question_publish(question=obj)
        question_search_refresh(question=obj)  # a new title or summary is searchable at once

    def save_formset(self, request, form, formset, change):
        if formset.model._meta.label == "answers.Answer":
            answer_save_from_formset(formset=formset, question=form.instance, by=request.user)
        else:
            super().save_formset(request, form, formset, change)

    @admin.action(description="Publish selected questions", permissions=["change"])
    def publish_selected(self, request, queryset):
        for question in queryset:
            question_publish(question=question)
        self.message_user(request, f"Published {queryset.count()} question(s).")


from . import admin_search  # noqa: E402, F401  (registers the search report and synonyms)
