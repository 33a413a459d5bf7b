"""Staff pages for search: the search report (read-only) and the synonym table."""

import datetime

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.text import slugify

from . import search_report
from .models import SearchQueryDay, Synonym

PERIODS = (7, 30, 90)
ROWS = 50


@admin.register(SearchQueryDay)
class SearchReportAdmin(admin.ModelAdmin):
    """What readers search for: the top queries, those that found nothing (each a link to start
    a draft question from it) and those whose results nobody opened. Counts are read-only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        days = int(request.GET["days"]) if request.GET.get("days") in {str(p) for p in PERIODS} else 30
        since = timezone.localdate() - datetime.timedelta(days=days - 1)
        add_url = reverse("admin:kb_question_add")
        zero = [
            {"query": query, "searches": searches, "start_url": f"{add_url}?{_draft_params(query)}"}
            for query, searches in search_report.zero_result_queries(since)[:ROWS]
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Search report",
            "opts": self.model._meta,
            "days": days,
            "periods": PERIODS,
            "top": search_report.top_queries(since, limit=ROWS),
            "zero": zero,
            "unopened": search_report.unopened_queries(since, limit=ROWS),
            "can_add_question": request.user.has_perm("kb.add_question"),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/kb/search_report.html", context)


def _draft_params(query: str) -> str:
    """The admin's add form reads initial values from the query string: a draft titled so."""
    title = query[:1].upper() + query[1:]
    return urlencode({"title": title[:200], "slug": slugify(query)[:200]})


class SynonymForm(forms.ModelForm):
    class Meta:
        model = Synonym
        fields = ["terms"]

    def clean_terms(self):
        terms = [" ".join(t.split()) for t in self.cleaned_data["terms"].split(",") if t.strip()]
        if len({t.lower() for t in terms}) < 2:
            raise forms.ValidationError("Give at least two different terms, separated by commas.")
        if any(len(t) > 60 for t in terms):
            raise forms.ValidationError("Each term may have at most 60 characters.")
        return ", ".join(terms)


@admin.register(Synonym)
class SynonymAdmin(admin.ModelAdmin):
    """Applied to every search at once: a query with one term also finds the others."""

    form = SynonymForm
    list_display = ["terms"]
    search_fields = ["terms"]
