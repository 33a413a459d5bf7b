from django.contrib import admin

from .models import ConsentRecord


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    """Read-only: a record is proof of what a visitor chose and is never edited."""

    list_display = ["created_at", "id", "action", "choices", "policy_version", "gpc"]
    list_filter = ["action", "policy_version", "gpc", "created_at"]
    search_fields = ["id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
