from django.contrib import admin

from .models import Run, RunCell, Worker


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
        "requested_at",
        "finished_at",
    ]
    list_filter = ["status", "queue", "forced"]
    search_fields = ["key", "worker"]
    readonly_fields = [f.name for f in Run._meta.fields]
    inlines = [RunCellInline]

    def has_add_permission(self, request):
        return False


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ["name", "queues", "device", "last_heartbeat", "started_at"]
    readonly_fields = [f.name for f in Worker._meta.fields]

    def has_add_permission(self, request):
        return False
