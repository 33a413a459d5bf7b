from django.contrib import admin
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from . import selectors, services
from .csv_export import csv_render
from .models import DemoRequest, DemoRequestStatus


@admin.register(DemoRequest)
class DemoRequestAdmin(admin.ModelAdmin):
    list_display = ["created_at", "name", "company", "email", "role", "status", "source_link", "emails_sent"]
    list_display_links = ["created_at", "name"]
    list_filter = ["status", "created_at", "source_question"]
    search_fields = ["name", "email", "company", "role", "message", "source_slug"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "name",
        "email",
        "company",
        "role",
        "message",
        "consent_to_contact",
        "source_link",
        "created_at",
        "updated_at",
        "sales_notified_at",
        "confirmation_sent_at",
    ]
    fields = ["status", *readonly_fields]
    actions = ["export_csv", "mark_contacted", "mark_qualified", "mark_closed"]

    def has_add_permission(self, request):
        return False  # requests come from the public form only

    @admin.display(description="Source article", ordering="source_slug")
    def source_link(self, obj: DemoRequest):
        if obj.source_question_id:
            url = reverse("admin:kb_question_change", args=[obj.source_question_id])
            return format_html('<a href="{}">{}</a>', url, obj.source_question.title)
        return obj.source_slug or "—"

    @admin.display(description="E-mails sent", boolean=True)
    def emails_sent(self, obj: DemoRequest) -> bool:
        return not obj.unsent()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source_question")

    @admin.action(description="Export selected requests as CSV")
    def export_csv(self, request, queryset):
        rows = [
            {
                "created_at": r.created_at.strftime("%Y-%m-%d %H:%M"),
                "status": r.get_status_display(),
                "name": r.name,
                "email": r.email,
                "company": r.company,
                "role": r.role,
                "message": r.message,
                "source": r.source_question.title if r.source_question else r.source_slug,
                "consent_to_contact": "yes" if r.consent_to_contact else "no",
            }
            for r in selectors.demo_requests_for_export(queryset=queryset)
        ]
        response = HttpResponse(csv_render(rows), content_type="text/csv; charset=utf-8")
        filename = f"demo-requests-{timezone.now():%Y%m%d-%H%M}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def _mark(self, request, queryset, status):
        count = services.demo_request_set_status(demo_requests=queryset, status=status)
        self.message_user(request, f"{count} request(s) marked as {status.label.lower()}.")

    @admin.action(description="Mark selected requests as contacted", permissions=["change"])
    def mark_contacted(self, request, queryset):
        self._mark(request, queryset, DemoRequestStatus.CONTACTED)

    @admin.action(description="Mark selected requests as qualified", permissions=["change"])
    def mark_qualified(self, request, queryset):
        self._mark(request, queryset, DemoRequestStatus.QUALIFIED)

    @admin.action(description="Mark selected requests as closed", permissions=["change"])
    def mark_closed(self, request, queryset):
        self._mark(request, queryset, DemoRequestStatus.CLOSED)
