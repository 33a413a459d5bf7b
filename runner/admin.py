from django.contrib import admin
from django.utils.text import Truncator

from .models import Run, RunCell, RunStatus, Worker


class RunCellInline(admin.TabularInline):
    model = RunCell
    extra = 0
    can_delete = False
    fields = ["index", "line", "status", "duration_s", "output", "stderr", "error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "status",
        "queue",
        "cells_done",
        "cell_count",
        "worker",
        "attempts",
        "infrastructure_fault",
        "requested_at",
        "finished_at",
    ]
    list_filter = ["status", "queue", "forced"]
    search_fields = ["key", "worker"]
    readonly_fields = [f.name for f in Run._meta.fields]
    inlines = [RunCellInline]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Infrastructure fault")
    def infrastructure_fault(self, run: Run) -> str:
        """A run the infrastructure failed (or that recovered from a fault) reads so,
        apart from a run whose cells failed."""
        if not run.fault:
            return ""
        prefix = "Gave up: " if run.status == RunStatus.FAULT else "Retried after: "
        return prefix + Truncator(run.fault).chars(120)


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ["name", "queues", "device", "last_heartbeat", "started_at"]
    readonly_fields = [f.name for f in Worker._meta.fields]

    def has_add_permission(self, request):
        return False
