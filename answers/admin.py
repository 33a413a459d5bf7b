from django import forms
from django.contrib import admin

from .models import Answer, Revision
from .services import answer_save


class AnswerForm(forms.ModelForm):
    class Meta:
        model = Answer
        fields = ["body"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 28, "class": "vLargeTextField", "spellcheck": "true"})
        }


class AnswerInline(admin.StackedInline):
    model = Answer
    form = AnswerForm
    extra = 1
    max_num = 1
    can_delete = False
    readonly_fields = ["authoring_problems"]
    fields = ["body", "authoring_problems"]

    @admin.display(description="Authoring problems")
    def authoring_problems(self, obj):
        if not obj or not obj.authoring_errors:
            return "None"
        return "; ".join(f"line {e['line']}: {e['message']}" for e in obj.authoring_errors)


def answer_save_from_formset(*, formset, question, by) -> None:
    """Route the admin's inline save through the service so a revision is always kept."""
    saved = []
    for form in formset.forms:
        if form.cleaned_data and form.cleaned_data.get("body") is not None and form.has_changed():
            saved.append(answer_save(question=question, body=form.cleaned_data["body"], by=by))
    # The admin's change message reads these, as if formset.save() had run.
    existed = bool(formset.initial_forms)
    formset.new_objects = [] if existed else saved
    formset.changed_objects = [(a, ["body"]) for a in saved] if existed else []
    formset.deleted_objects = []


class RevisionInline(admin.TabularInline):
    model = Revision
    extra = 0
    can_delete = False
    fields = ["number", "created_at", "created_by", "body"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = ["question", "cell_count", "updated_at", "updated_by"]
    search_fields = ["question__title", "body"]
    readonly_fields = ["question", "cell_count", "updated_at", "updated_by", "authoring_errors"]
    fields = ["question", "body", "cell_count", "authoring_errors", "updated_at", "updated_by"]
    inlines = [RevisionInline]

    def has_add_permission(self, request):
        return False  # answers are written from their question's page

    def save_model(self, request, obj, form, change):
        answer_save(question=obj.question, body=form.cleaned_data["body"], by=request.user)
