from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from kb.models import Question
from runner import results as runner_results

from .admin_editor import answer_editor_config, editor_urls
from .admin_figures import figure_urls
from .admin_notebook_review import notebook_review_urls
from .approvals import approvals_sync_from_files
from .datafiles import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_TOTAL_BYTES,
    data_files_changed,
    data_files_set,
    file_size_problem,
    files_problems,
)
from .drafts import draft_discard
from .limits import MAX_CELLS, MAX_NOTEBOOK_BYTES, answer_size_problem, notebook_bytes_problem
from .models import Answer, AnswerFile, Reproduction, Revision
from .notebook_import import NotebookError, notebook_import
from .services import answer_publish_override, answer_save, answer_verify

# Rendered by the admin as HTML (its fieldset template marks help text safe): no user data here.
ANSWER_HELP = (
    "Markdown. A <code>```python run</code> block is run by a worker; an <code>```output</code> block "
    "right after it is its expected output (whitespace runs count as one space, <code>...</code> "
    "matches any text). Options follow <code>run</code>: <code>timeout=60</code>, "
    "<code>device=cuda</code>, <code>raises=ValueError</code>, <code>tol=1e-6</code>, "
    "<code>hide=true</code>, <code>figtol=8</code>, <code>nondeterministic=true</code>, "
    '<code>alt="..."</code>, <code>caption="..."</code>. Every option and cell status, with '
    'examples: <a href="/admin/authoring/" target="_blank" rel="noopener">authoring reference</a> '
    "(<code>docs/authoring.md</code>)."
)


class AnswerBodyForm(forms.ModelForm):
    """The Markdown, refused here when it is over the caps of answers/limits.py, so the
    author gets a form error with their text kept instead of a slow save."""

    class Meta:
        model = Answer
        fields = ["body"]

    def clean_body(self):
        body = self.cleaned_data["body"]
        if problem := answer_size_problem(body):
            raise forms.ValidationError(problem, code="too_large")
        return body


class AnswerForm(AnswerBodyForm):
    # The revision the editor started from: saving over someone else's newer revision is refused
    # (their revision is kept either way; this stops one silently replacing the other).
    base_revision = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Answer
        fields = ["body"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 28, "class": "vLargeTextField", "spellcheck": "true"})
        }
        help_texts = {"body": ANSWER_HELP}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["base_revision"].initial = _latest_revision_number(self.instance)

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.has_changed():
            latest = _latest_revision_number(self.instance)
            base = cleaned.get("base_revision")
            if base is not None and base != latest:
                raise forms.ValidationError(
                    f"Someone else saved revision {latest} of this answer after you opened it. "
                    "Your text is still here: compare it with the history, then save again.",
                    code="stale_revision",
                )
        return cleaned


def _latest_revision_number(answer: Answer) -> int:
    return answer.revisions.order_by("-number").values_list("number", flat=True).first() or 0


class AnswerInline(admin.StackedInline):
    model = Answer
    form = AnswerForm
    extra = 1
    max_num = 1
    can_delete = False
    readonly_fields = ["verification", "authoring_problems"]
    fields = ["body", "base_revision", "verification", "authoring_problems"]

    @admin.display(description="Authoring problems")
    def authoring_problems(self, obj):
        if not obj or not obj.authoring_errors:
            return "None"
        return "; ".join(f"line {e['line']}: {e['message']}" for e in obj.authoring_errors)

    @admin.display(description="Verification")
    def verification(self, obj):
        if not obj or not obj.pk:
            return "Runs when you save."
        return format_html(
            '<div class="kb-run-progress" data-status-url="{}" data-cell-url="{}">'
            '<p class="kb-run-progress__label">{}</p><p class="kb-run-progress__first">{}</p>'
            '<progress max="1" value="0"></progress><ol class="kb-run-progress__cells"></ol></div>',
            reverse("admin:kb_question_run_status", args=[obj.question_id]),
            # Each cell's line links to that cell (its #cell-N permalink) in the current revision's preview.
            reverse("admin:kb_question_preview_frame", args=[obj.question_id]),
            verification_label(obj),
            first_failure_text(obj),
        )


def verification_label(answer: Answer | None) -> str:
    if answer is None:
        return "No answer"
    if answer.authoring_errors:
        return "Authoring errors"
    if answer.cell_count == 0:
        return "No code"
    if answer.run is None:
        return "Not run"
    label = answer.run.get_status_display()
    if answer.stopped_passing_at:
        label += " (stopped passing)"
    elif answer.published_revision_id and answer.has_unpublished_changes:
        label += " (readers see an earlier revision)"
    return label


def first_failure_text(answer: Answer) -> str:
    """ "First failure: cell 2 (line 14), Error: NameError…", shown before the cells (also
    without JavaScript), so staff fix the cell that failed on its own account first."""
    run = answer.run
    if run is None or not run.is_finished:
        return ""
    results = runner_results.run_results(run=run)
    first = runner_results.run_first_failure(results=results)
    if first is None:
        return ""
    result = results[first]
    last_line = (result["error"] or "").strip().splitlines()[-1:] or [""]
    line = next((c.get("line") for c in run.cells if c["index"] == first), "?")
    text = f"First failure: cell {first + 1} (line {line}), {result['status_label']}"
    return f"{text}: {last_line[0][:200]}" if last_line[0] else text


class VerificationFilter(admin.SimpleListFilter):
    title = "verification"
    parameter_name = "verification"

    def lookups(self, request, model_admin):
        return [
            ("verified", "Verified"),
            ("failed", "Failed"),
            # The infrastructure failed the run, not the answer (never "stopped passing").
            ("fault", "Infrastructure fault"),
            ("pending", "Queued or running"),
            ("stopped_passing", "Stopped passing"),
            ("unpublished_changes", "Newer revision not shown"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value in ("verified", "failed", "fault"):
            return queryset.filter(answer__run__status=value)
        if value == "pending":
            return queryset.filter(answer__run__status__in=["queued", "running", "waiting_gpu"])
        if value == "stopped_passing":
            return queryset.filter(answer__stopped_passing_at__isnull=False)
        if value == "unpublished_changes":
            return queryset.filter(answer__published_revision__isnull=False).exclude(
                answer__published_html=F("answer__rendered_html")
            )
        return queryset


TITLE_MAX = Question._meta.get_field("title").max_length


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe); [] when none are chosen."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        items = data if isinstance(data, (list, tuple)) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


class NotebookUploadForm(forms.Form):
    notebook = forms.FileField(
        help_text=f"A Jupyter notebook (.ipynb), at most {MAX_NOTEBOOK_BYTES // 2**20} MB and "
        f"{MAX_CELLS} code cells."
    )
    title = forms.CharField(
        max_length=200, required=False, help_text="Defaults to the notebook's first heading."
    )
    slug = forms.SlugField(max_length=200, required=False)
    data_files = MultipleFileField(
        required=False,
        help_text=f"Files the notebook opens by name (names.txt, a CSV), at most {MAX_FILES} files, "
        f"{MAX_FILE_BYTES // 2**20} MiB each, {MAX_TOTAL_BYTES // 2**20} MiB together: the cells read them "
        "read-only from their working directory.",
    )

    def clean_data_files(self):
        uploads = self.cleaned_data["data_files"]
        if problems := [p for u in uploads if (p := file_size_problem(u.name, u.size))]:
            raise forms.ValidationError(problems)  # before reading them into memory
        files = {}
        for upload in uploads:
            if upload.name in files:
                raise forms.ValidationError(f"Two files are named {upload.name!r}: rename one.")
            files[upload.name] = upload.read()
        if problems := files_problems(files):
            raise forms.ValidationError(problems)
        return files

    keep_outputs = forms.BooleanField(
        required=False,
        initial=True,
        label="Keep stored outputs as expected outputs",
        help_text="Each code cell's stored text output (what it printed and its last value's text) "
        "becomes its expected output; the review after the import shows which cells match.",
    )
    keep_figures = forms.BooleanField(
        required=False,
        initial=False,
        label="Keep stored images as approved figures",
        help_text="Each cell's stored images become its approved figures. Jupyter draws at its own "
        "size and resolution, so they often differ from the sandbox's drawing: the review then shows "
        "them side by side to approve the new ones.",
    )

    def clean_notebook(self):
        upload = self.cleaned_data["notebook"]
        if problem := notebook_bytes_problem(upload.size):  # before reading it into memory
            raise forms.ValidationError(problem, code="too_large")
        self.raw = upload.read()
        return upload

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if slug and Question.objects.filter(slug=slug).exists():
            raise forms.ValidationError("A question with this slug exists already: choose another one.")
        return slug

    def clean(self):
        cleaned = super().clean()
        if hasattr(self, "raw"):
            try:
                self.imported = notebook_import(
                    self.raw,
                    keep_outputs=cleaned.get("keep_outputs", False),
                    keep_figures=cleaned.get("keep_figures", False),
                )
            except NotebookError as exc:
                self.add_error("notebook", str(exc))
                return cleaned
            self.parsed = (self.imported.title, self.imported.markdown)
            self.approved_figures = self.imported.figures
            title = cleaned.get("title") or self.parsed[0]
            if not title:
                self.add_error("title", "The notebook has no heading to use as the title: give one.")
            elif len(title) > TITLE_MAX:
                self.add_error(
                    "title",
                    f"The notebook's heading is {len(title)} characters long; a title has at most "
                    f"{TITLE_MAX}: give a shorter one.",
                )
            cleaned["title"] = title
        return cleaned


class AnswerAdminMixin:
    """What the question admin offers for its answer: status, live progress, verify, notebooks."""

    @admin.display(description="Verification")
    def verification_status(self, obj):
        return verification_label(getattr(obj, "answer", None))

    @admin.action(description="Verify now (run again, even if cached)", permissions=["change"])
    def verify_now(self, request, queryset):
        count = 0
        for question in queryset.select_related("answer"):
            answer = getattr(question, "answer", None)
            if answer is not None and answer.cell_count:
                answer_verify(answer=answer, force=True)
                count += 1
        self.message_user(request, f"Queued {count} run(s).")

    def answer_urls(self):
        site = self.admin_site
        return [
            path(
                "<int:pk>/run-status/", site.admin_view(self.run_status_view), name="kb_question_run_status"
            ),
            path(
                "import-notebook/",
                site.admin_view(self.import_notebook_view),
                name="kb_question_import_notebook",
            ),
            *figure_urls(self),  # approve figures, review mismatches
            *notebook_review_urls(self),  # an imported notebook's cells against their stored outputs
            *editor_urls(self),  # the answer editor's problems and live preview
        ]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "answer_editor": answer_editor_config(request, object_id)}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def run_status_view(self, request, pk: int):
        # Cell outputs of a draft: only for staff who may view questions.
        if not self.has_view_permission(request):
            raise PermissionDenied
        answer = get_object_or_404(Answer.objects.select_related("run"), question_id=pk)
        run = answer.run
        if run is None:
            return JsonResponse({"status": None, "label": verification_label(answer), "cells": []})
        results = runner_results.run_results(run=run)
        first = runner_results.run_first_failure(results=results)
        cells = [
            {
                "index": cell["index"],
                "line": cell["line"],
                "status": results[cell["index"]]["status"] if cell["index"] in results else None,
                "status_label": results[cell["index"]]["status_label"]
                if cell["index"] in results
                else "waiting",
                "output": results[cell["index"]]["output"][:2000] if cell["index"] in results else "",
                "error": results[cell["index"]]["error"][-2000:] if cell["index"] in results else "",
                "after_failure": results[cell["index"]]["after_failure"]
                if cell["index"] in results
                else None,
            }
            for cell in run.cells
        ]
        return JsonResponse(
            {
                "status": run.status,
                "label": verification_label(answer),
                "finished": run.is_finished,
                "cells_done": run.cells_done,
                "cell_count": run.cell_count,
                # The cell to fix first: the first that failed on its own account.
                "first_failure": next((c for c in cells if c["index"] == first), None),
                "cells": cells,
            }
        )

    def import_notebook_view(self, request):
        # It creates a question and an answer whose cells run.
        if not (self.has_add_permission(request) and request.user.has_perm("answers.change_answer")):
            raise PermissionDenied
        form = NotebookUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            title = form.cleaned_data["title"]
            slug = form.cleaned_data["slug"] or _unique_slug(title)
            try:
                with transaction.atomic():  # never a question without its answer
                    question = Question.objects.create(title=title, slug=slug, author=request.user)
                    # Approved figures travel in the notebook's cell metadata.
                    approvals_sync_from_files(question=question, files=form.approved_figures, by=request.user)
                    data_files_set(question=question, files=form.cleaned_data["data_files"], by=request.user)
                    answer_save(question=question, body=form.parsed[1], by=request.user)
            except IntegrityError:  # the same slug, created by someone else a moment ago
                form.add_error("slug", "A question with this slug exists already: choose another one.")
            else:
                imported = form.imported
                kept = (
                    f" {imported.kept_outputs} stored output(s) kept as expected outputs."
                    if imported.kept_outputs
                    else ""
                )
                messages.success(request, f"Notebook imported as a draft; its cells are running now.{kept}")
                for note in imported.notes:
                    messages.info(request, note)
                return redirect("admin:kb_question_notebook_review", question.pk)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": Question._meta,
            "title": "Start an answer from a notebook",
        }
        return render(request, "admin/kb/question/import_notebook.html", context)

    def save_related(self, request, form, formsets, change):
        # Data files first: a body saved in the same request then runs with the new files.
        formsets = sorted(formsets, key=lambda f: f.model is not AnswerFile)
        super().save_related(request, form, formsets, change)
        question = form.instance
        # Saved: the editor's unsaved draft of it (or of the new question) is now stale.
        draft_discard(author=request.user, question=question if change else None)
        if getattr(request, "_data_files_changed", False):
            data_files_changed(question=question)  # the body may be unchanged: run with the new files
        if question.allow_unverified and hasattr(question, "answer"):
            answer_publish_override(answer=question.answer)


def _unique_slug(title: str) -> str:
    from django.utils.text import slugify

    base = slugify(title)[:180] or "notebook"
    slug, n = base, 2
    while Question.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


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
    fields = ["number", "created_at", "created_by", "run", "body"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = [
        "question",
        "cell_count",
        "verification",
        "published_revision",
        "updated_at",
        "updated_by",
    ]
    search_fields = ["question__title", "body"]
    readonly_fields = [
        "question",
        "cell_count",
        "updated_at",
        "updated_by",
        "authoring_errors",
        "run",
        "published_revision",
        "published_verified",
        "stopped_passing_at",
    ]
    fields = [
        "question",
        "body",
        "cell_count",
        "authoring_errors",
        "run",
        "published_revision",
        "published_verified",
        "stopped_passing_at",
        "updated_at",
        "updated_by",
    ]
    inlines = [RevisionInline]
    form = AnswerBodyForm

    @admin.display(description="Verification")
    def verification(self, obj):
        return verification_label(obj)

    def has_add_permission(self, request):
        return False  # answers are written from their question's page

    def save_model(self, request, obj, form, change):
        answer_save(question=obj.question, body=form.cleaned_data["body"], by=request.user)


@admin.register(Reproduction)
class ReproductionAdmin(admin.ModelAdmin):
    list_display = ["answer", "run", "created_at"]
    readonly_fields = ["answer", "revision", "run", "verified_run", "client", "created_at"]

    def has_add_permission(self, request):
        return False
