"""The question page's "Data files" inline: list, upload and remove the answer's data files.

Every change goes through answers.datafiles (caps and names checked for the whole set before
anything is written); the answer then runs again with its new files."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from runner.engine.datafiles import name_problem

from .datafiles import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_TOTAL_BYTES,
    data_files_set,
    file_size_problem,
    files_problems,
)
from .models import AnswerFile

DATA_FILES_HELP = (
    f"Small files the cells open by name from their working directory, read-only (at most {MAX_FILES} "
    f"files, {MAX_FILE_BYTES // 2**20} MiB each, {MAX_TOTAL_BYTES // 2**20} MiB together). Changing one "
    "runs the answer again."
)


class AnswerFileForm(forms.ModelForm):
    upload = forms.FileField(required=False, help_text=DATA_FILES_HELP)

    class Meta:
        model = AnswerFile
        fields = ["name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False
        # A tabular inline shows column headings, not labels: name each input for screen readers.
        self.fields["name"].widget.attrs["aria-label"] = "Data file name"
        self.fields["upload"].widget.attrs["aria-label"] = "Data file to upload"
        if self.instance.pk:
            self.fields["name"].disabled = True  # a new name is a new file: upload it again

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("upload")
        if self.instance.pk:
            cleaned["name"] = self.instance.name
            if upload is not None:
                cleaned["content"] = self._read(upload, self.instance.name)
            return cleaned
        if upload is None:
            if cleaned.get("name"):
                self.add_error("upload", "Choose the file to upload.")
            return cleaned
        name = cleaned.get("name") or upload.name
        if problem := name_problem(name):
            self.add_error("name" if cleaned.get("name") else "upload", problem)
            return cleaned
        cleaned["name"] = name
        cleaned["content"] = self._read(upload, name)
        return cleaned

    def _read(self, upload, name: str) -> bytes | None:
        if problem := file_size_problem(name, upload.size):  # before reading it into memory
            self.add_error("upload", problem)
            return None
        return upload.read()


class AnswerFileFormSet(forms.BaseInlineFormSet):
    def clean(self):
        # Not super().clean(): its generic "duplicate data" check would also refuse a file
        # removed and uploaded again under the same name; the check below says which name.
        if any(form.errors for form in self.forms):
            return
        kept = {
            form.instance.name
            for form in self.forms
            if form.instance.pk and not form.cleaned_data.get("DELETE")
        }
        added = [
            form.cleaned_data["name"]
            for form in self.forms
            if not form.instance.pk and form.cleaned_data.get("content") is not None
        ]
        for name in {n for n in added if added.count(n) > 1 or n in kept}:
            raise forms.ValidationError(
                f"There is already a data file named {name!r}: upload on its row to replace it, or "
                "give the new file another name."
            )
        if problems := files_problems(self.resulting_files()):
            raise forms.ValidationError(problems)

    def resulting_files(self) -> dict[str, bytes]:
        files = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if form.instance.pk:
                if data.get("DELETE"):
                    continue
                files[form.instance.name] = data.get("content") or bytes(form.instance.content)
            elif data.get("content") is not None and not data.get("DELETE"):
                files[data["name"]] = data["content"]
        return files

    def save_through_service(self, *, question, by) -> bool:
        files = self.resulting_files()
        before = {f.name: f for f in question.data_files.all()}
        changed = data_files_set(question=question, files=files, by=by)
        after = {f.name: f for f in question.data_files.all()}
        # The admin's change message reads these, as if formset.save() had run.
        self.new_objects = [f for name, f in after.items() if name not in before]
        self.changed_objects = [
            (f, ["content"])
            for name, f in after.items()
            if name in before and before[name].sha256 != f.sha256
        ]
        self.deleted_objects = [f for name, f in before.items() if name not in after]
        return changed


class AnswerFileInline(admin.TabularInline):
    model = AnswerFile
    form = AnswerFileForm
    formset = AnswerFileFormSet
    extra = 1
    fields = ["name", "upload", "size_shown", "sha256", "uploaded_at", "uploaded_by"]
    readonly_fields = ["size_shown", "sha256", "uploaded_at", "uploaded_by"]
    verbose_name = "data file"
    verbose_name_plural = "Data files"

    @admin.display(description="Size")
    def size_shown(self, obj):
        return filesizeformat(obj.size) if obj and obj.pk else "–"
