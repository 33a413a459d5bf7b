"""An answer's data files: the caps, the names, and every write to them.

The caps (docs/authoring.md, "Data files"): at most MAX_FILES files, each at most
MAX_FILE_BYTES, together at most MAX_TOTAL_BYTES; names are plain file names (no folder, no
leading dot, no control characters). Every way in (the admin, `import_articles`, the notebook
import) goes through files_problems, so a refused file never replaces a kept one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.db import transaction

from runner.engine.datafiles import name_problem

from .models import AnswerFile

MAX_FILES = 20
MAX_FILE_BYTES = 1024 * 1024
MAX_TOTAL_BYTES = 4 * 1024 * 1024


class DataFileError(ValueError):
    """Raised with every problem found; nothing has been written when it is raised."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def file_size_problem(name: str, size: int) -> str | None:
    if size > MAX_FILE_BYTES:
        return f"{name}: {size:,} bytes; a data file may hold at most {MAX_FILE_BYTES:,} bytes (1 MiB)"
    return None


def files_problems(files: dict[str, bytes]) -> list[str]:
    """Every reason this set of files cannot be an answer's, naming the file and the cap."""
    problems = [problem for name in files if (problem := name_problem(name))]
    problems += [problem for name, data in files.items() if (problem := file_size_problem(name, len(data)))]
    if len(files) > MAX_FILES:
        problems.append(f"{len(files)} data files; an answer may have at most {MAX_FILES}")
    total = sum(len(data) for data in files.values())
    if total > MAX_TOTAL_BYTES:
        problems.append(
            f"the data files hold {total:,} bytes together; an answer's may hold at most "
            f"{MAX_TOTAL_BYTES:,} bytes (4 MiB)"
        )
    return problems


def files_dir(markdown_path: Path, slug: str) -> Path:
    """content/<file>.md keeps its data files in content/files/<slug>/ (beside figures/<slug>/)."""
    return markdown_path.parent / "files" / slug


def read_files_dir(directory: Path) -> tuple[dict[str, bytes], list[str]]:
    """({name: content}, problems) for a folder of data files; no folder: no files.

    Only plain files directly inside: a subfolder or a link is a problem, not a silent skip."""
    if not directory.is_dir():
        return {}, []
    files, problems = {}, []
    for path in sorted(directory.iterdir()):
        where = f"{directory.name}/{path.name}"
        if path.is_symlink() or not path.is_file():
            problems.append(f"{where}: only plain files may be data files (no folders or links)")
        elif (problem := name_problem(path.name)) or (
            problem := file_size_problem(path.name, path.stat().st_size)
        ):
            problems.append(f"{where}: {problem}")
        else:
            files[path.name] = path.read_bytes()
    if not problems:
        problems = [f"{directory.name}: {problem}" for problem in files_problems(files)]
    return files, problems


def data_files_of(*, question) -> dict[str, bytes]:
    """{name: content} of the question's answer's data files."""
    if question.pk is None:
        return {}
    return {name: bytes(content) for name, content in question.data_files.values_list("name", "content")}


def data_files_hashes(*, question) -> dict[str, str]:
    return dict(question.data_files.values_list("name", "sha256"))


@transaction.atomic
def data_files_set(*, question, files: dict[str, bytes], by=None) -> bool:
    """Make the question's data files exactly ``files``; True when anything changed.

    Raises DataFileError (writing nothing) when the set breaks a cap or holds a bad name."""
    if problems := files_problems(files):
        raise DataFileError(problems)
    wanted = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    current = data_files_hashes(question=question)
    if wanted == current:
        return False
    question.data_files.exclude(name__in=list(files)).delete()
    for name, data in files.items():
        if current.get(name) != wanted[name]:
            AnswerFile.objects.update_or_create(
                question=question,
                name=name,
                defaults={"content": data, "size": len(data), "sha256": wanted[name], "uploaded_by": by},
            )
    return True


def data_files_changed(*, question) -> None:
    """Run the answer again with its new files (a new execution key); nothing if none yet."""
    from .models import Answer
    from .services import answer_verify

    answer = Answer.objects.filter(question=question).first()
    if answer is not None:
        answer_verify(answer=answer, twice=True)
