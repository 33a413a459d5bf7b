"""Data files: caps and names, the admin inline, import_articles and the notebook import."""

from pathlib import Path

import nbformat
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from answers.datafiles import MAX_FILE_BYTES, MAX_FILES, files_problems
from answers.models import AnswerFile
from kb.models import Question
from runner.models import Run

pytestmark = pytest.mark.django_db

BODY = "```python run\nprint(open('names.txt').read())\n```\n"
ARTICLE = "---\ntitle: Names\nslug: names\n---\n" + BODY


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw-Staff-123")
    client.force_login(user)
    return client


def _form(question=None, **files):
    data = {
        "title": "Names",
        "slug": "names",
        "summary": "",
        "status": "draft",
        "answer-TOTAL_FORMS": "1",
        "answer-INITIAL_FORMS": "1" if question else "0",
        "answer-MIN_NUM_FORMS": "0",
        "answer-MAX_NUM_FORMS": "1",
        "answer-0-body": BODY,
        "data_files-TOTAL_FORMS": "0",
        "data_files-INITIAL_FORMS": "0",
    }
    if question is not None:
        data["answer-0-id"] = str(question.answer.pk)
        data["answer-0-question"] = str(question.pk)
        data["answer-0-base_revision"] = str(question.answer.revisions.count())
        existing = list(question.data_files.all())
        for n, f in enumerate(existing):
            data.update({f"data_files-{n}-id": str(f.pk), f"data_files-{n}-question": str(question.pk)})
        data["data_files-INITIAL_FORMS"] = str(len(existing))
        data["data_files-TOTAL_FORMS"] = str(len(existing))
    start = int(data["data_files-TOTAL_FORMS"])
    for n, (key, value) in enumerate(files.items(), start=start):
        data[f"data_files-{n}-{key}"] = value
    data["data_files-TOTAL_FORMS"] = str(start + len([k for k in files if k.startswith("upload")]) or start)
    return data


def _upload(client, question=None, **fields):
    url = f"/admin/kb/question/{question.pk}/change/" if question else "/admin/kb/question/add/"
    data = _form(question)
    total = int(data["data_files-TOTAL_FORMS"])
    row = fields.pop("row", total)
    for key, value in fields.items():
        data[f"data_files-{row}-{key}"] = value
    data["data_files-TOTAL_FORMS"] = str(max(total, row + 1))
    return client.post(url, data)


def test_caps_and_names_are_checked_for_the_whole_set():
    assert files_problems({"a.txt": b"x"}) == []
    assert "1,048,576 bytes" in files_problems({"a.txt": b"x" * (MAX_FILE_BYTES + 1)})[0]
    assert "at most 20" in files_problems({f"f{n}.txt": b"" for n in range(MAX_FILES + 1)})[0]
    assert "4 MiB" in files_problems({f"f{n}.bin": b"x" * MAX_FILE_BYTES for n in range(5)})[-1]
    assert "is a path" in files_problems({"../etc/passwd": b""})[0]
    assert "starts with a dot" in files_problems({".env": b""})[0]


def test_staff_upload_list_replace_and_remove_files_and_each_change_runs_the_answer(staff_client):
    response = _upload(staff_client, upload=SimpleUploadedFile("names.txt", b"emma\n"))
    assert response.status_code == 302, response.content.decode()[:3000]
    question = Question.objects.get(slug="names")
    stored = question.data_files.get()
    assert (stored.name, bytes(stored.content), stored.size) == ("names.txt", b"emma\n", 5)
    first_run = question.answer.run
    assert first_run.files == [{"name": "names.txt", "sha256": stored.sha256, "size": 5}]

    page = staff_client.get(f"/admin/kb/question/{question.pk}/change/").content.decode()
    assert (
        "Data files" in page
        and "names.txt" in page
        and "5\xa0bytes" in page
        and 'enctype="multipart/form-data"' in page
    )

    # Replacing its content, body unchanged: a new execution key, so a new run.
    response = _upload(staff_client, question, row=0, upload=SimpleUploadedFile("x", b"olivia\n"))
    assert response.status_code == 302, response.content.decode()[:3000]
    question.answer.refresh_from_db()
    assert bytes(question.data_files.get().content) == b"olivia\n"
    assert question.answer.run.pk != first_run.pk and question.answer.run.key != first_run.key

    # An upload under a name given by hand, then removing the first file.
    response = _upload(staff_client, question, name="table.csv", upload=SimpleUploadedFile("t", b"a,b\n"))
    assert response.status_code == 302
    assert sorted(question.data_files.values_list("name", flat=True)) == ["names.txt", "table.csv"]
    data = _form(question)
    data["data_files-0-DELETE"] = "on"
    assert staff_client.post(f"/admin/kb/question/{question.pk}/change/", data).status_code == 302
    assert list(question.data_files.values_list("name", flat=True)) == ["table.csv"]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"upload": SimpleUploadedFile(".env", b"SECRET=1")}, "starts with a dot"),
        ({"name": "../x.txt", "upload": SimpleUploadedFile("x", b"1")}, "is a path"),
        ({"upload": SimpleUploadedFile("big.bin", b"x" * (MAX_FILE_BYTES + 1))}, "at most 1,048,576 bytes"),
        ({"name": "names.txt"}, "Choose the file to upload"),
    ],
)
def test_bad_uploads_are_form_errors_and_write_nothing(staff_client, fields, message):
    response = _upload(staff_client, **fields)
    assert response.status_code == 200 and message in response.content.decode()
    assert not Question.objects.exists() and not AnswerFile.objects.exists()


def test_a_second_file_of_the_same_name_is_refused(staff_client):
    _upload(staff_client, upload=SimpleUploadedFile("names.txt", b"emma\n"))
    question = Question.objects.get()
    response = _upload(staff_client, question, upload=SimpleUploadedFile("names.txt", b"other\n"))
    assert response.status_code == 200 and "There is already a data file named" in response.content.decode()
    assert bytes(question.data_files.get().content) == b"emma\n"


def test_staff_without_change_permission_cannot_touch_files(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw-View-123", is_staff=True)
    client.force_login(user)
    assert client.post("/admin/kb/question/add/", _form()).status_code == 403


def _content(tmp_path: Path, files: dict[str, bytes]) -> None:
    (tmp_path / "names.md").write_text(ARTICLE)
    folder = tmp_path / "files" / "names"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def test_import_articles_reads_files_beside_the_markdown_and_keeps_the_key_on_a_rerun(tmp_path):
    _content(tmp_path, {"names.txt": b"emma\n"})
    call_command("import_articles", str(tmp_path))
    question = Question.objects.get(slug="names")
    assert dict(question.data_files.values_list("name", "size")) == {"names.txt": 5}
    run = question.answer.run
    call_command("import_articles", str(tmp_path))
    assert Run.objects.count() == 1 and Question.objects.get().answer.run == run
    (tmp_path / "files" / "names" / "names.txt").write_bytes(b"ava\n")
    call_command("import_articles", str(tmp_path))
    assert Run.objects.count() == 2 and Question.objects.get().answer.run.key != run.key
    (tmp_path / "files" / "names" / "names.txt").unlink()
    call_command("import_articles", str(tmp_path))
    assert not question.data_files.exists() and Question.objects.get().answer.run.files == []


@pytest.mark.parametrize(
    "files, message",
    [
        ({".hidden": b"x"}, "names/.hidden: '.hidden' starts with a dot"),
        ({"big.bin": b"x" * (MAX_FILE_BYTES + 1)}, "big.bin: 1,048,577 bytes"),
    ],
)
def test_import_articles_refuses_bad_files_and_imports_nothing(tmp_path, files, message):
    _content(tmp_path, files)
    with pytest.raises(CommandError, match=message):
        call_command("import_articles", str(tmp_path))
    assert not Question.objects.exists()


def test_import_articles_refuses_folders_and_links_among_the_files(tmp_path):
    _content(tmp_path, {})
    (tmp_path / "files" / "names" / "sub").mkdir()
    (tmp_path / "files" / "names" / "link").symlink_to("/etc/passwd")
    with pytest.raises(CommandError, match="only plain files") as raised:
        call_command("import_articles", str(tmp_path))
    assert "names/link" in str(raised.value) and "names/sub" in str(raised.value)


def _notebook() -> SimpleUploadedFile:
    notebook = new_notebook(cells=[new_markdown_cell("# Names"), new_code_cell("open('names.txt').read()")])
    return SimpleUploadedFile("names.ipynb", nbformat.writes(notebook).encode())


def test_notebook_import_takes_its_data_files(staff_client):
    files = [SimpleUploadedFile("names.txt", b"emma\n"), SimpleUploadedFile("t.csv", b"a\n1\n")]
    response = staff_client.post(
        "/admin/kb/question/import-notebook/", {"notebook": _notebook(), "data_files": files}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    question = Question.objects.get(slug="names")
    assert sorted(question.data_files.values_list("name", flat=True)) == ["names.txt", "t.csv"]
    assert [f["name"] for f in question.answer.run.files] == ["names.txt", "t.csv"]


def test_notebook_import_refuses_bad_data_files_and_creates_nothing(staff_client):
    for files, message in [
        ([SimpleUploadedFile(".bashrc", b"x")], "starts with a dot"),
        ([SimpleUploadedFile("a.txt", b"1"), SimpleUploadedFile("a.txt", b"2")], "Two files are named"),
    ]:
        response = staff_client.post(
            "/admin/kb/question/import-notebook/", {"notebook": _notebook(), "data_files": files}
        )
        assert response.status_code == 200 and message in response.content.decode()
    assert not Question.objects.exists() and not AnswerFile.objects.exists()
