from django.contrib import admin
from django.template.response import TemplateResponse

from demo_requests.selectors import demo_requests_per_source

from . import selectors
from .charts import bar_chart_svg
from .models import ArticleViewDay

DAYS = 30


@admin.register(ArticleViewDay)
class ArticleViewDayAdmin(admin.ModelAdmin):
    """The analytics page for staff: the counts are read-only, shown as a chart and tables."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            return super().changelist_view(request, extra_context)
        per_day = selectors.views_per_day(days=DAYS)
        for row in per_day:
            row["label"] = row["day"].strftime("%d %b")
        per_source = demo_requests_per_source(days=DAYS)
        peak_source = max((row["requests"] for row in per_source), default=0) or 1
        for row in per_source:
            row["percent"] = round(100 * row["requests"] / peak_source)
        context = {
            **self.admin_site.each_context(request),
            "title": "Analytics",
            "opts": self.model._meta,
            "days": DAYS,
            "chart": bar_chart_svg(
                rows=per_day,
                label_key="label",
                value_key="views",
                title=f"Article views per day, last {DAYS} days",
            ),
            "per_day": per_day,
            "total_views": sum(row["views"] for row in per_day),
            "per_article": selectors.views_per_article(days=DAYS),
            "per_source": per_source,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/analytics/dashboard.html", context)
