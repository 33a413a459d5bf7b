"""Figures through the real worker pool: approve a figure, break it, approve again; a cell
that differs between two runs; drift caught by re-verification; approvals in import_articles."""

import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from answers.approvals import approvals_write_files, current_approvals
from answers.importing import articles_import
from answers.maintenance import answers_reverify_published
from answers.models import Answer, FigureApproval
from answers.services import answer_save
from kb.models import Question
from kb.services import question_publish
from tests.support.article_html import article_html
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PLOT = """## A plot

```python run
import numpy as np
import matplotlib.pyplot as plt
x = np.linspace(0, 10, 50)
fig, ax = plt.subplots()
ax.plot(x, np.roll(np.sin(x), SHIFT), label="sin")
ax.plot(x, np.cos(x), label="cos")
ax.legend()
print("drawn")
```

```output
drawn
```
"""


def plot(shift=0) -> str:
    return PLOT.replace("SHIFT", str(shift))


def _answer(slug) -> Answer:
    return Answer.objects.select_related("run", "published_run", "question").get(question__slug=slug)


def _finished(slug, run_id=None):
    answer = _answer(slug)
    if answer.run is None or not answer.run.is_finished or answer.run_id == run_id:
        return None
    return answer




def _publish(slug, body):
    question = Question.objects.create(title=f"Question {slug}", slug=slug)
    answer_save(question=question, body=body)
    question_publish(question=question)
    return wait_for(lambda: _finished(slug), timeout=120)


def _approve(client, answer, *, cell=0, figure=0):
    return client.post(
        f"/admin/kb/question/{answer.question_id}/figures/approve/",
        {"run": answer.run_id, "cell": cell, "figure": figure},
    )


def test_approve_a_figure_break_it_with_an_edit_see_the_diff_and_approve_again(
    client, cpu_worker, django_user_model
):
    answer = _publish("plot", plot())
    run = answer.run
    assert run.status == "verified" and run.twice and run.sandbox.get("runs") == 2
    cell = run.results.get()
    assert cell.checks["reproduction"]["reproduced"] is True and cell.checks["figures"] == []
    page = article_html(client, "plot")
    assert "reproduced 2/2" in page and "matches the approved figure" not in page  # unapproved

    # Staff who may only view questions cannot approve: 403.
    viewer = django_user_model.objects.create_user("viewer", "v@example.com", "pw-View-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_question"))
    viewer_client = Client()
    viewer_client.force_login(viewer)
    assert viewer_client.get(f"/admin/kb/question/{answer.question_id}/figures/").status_code == 200
    assert _approve(viewer_client, answer).status_code == 403
    # A POST without the CSRF token is refused too.
    staff = django_user_model.objects.create_superuser("staff", "s@example.com", "pw-Staff-123")
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff)
    assert _approve(csrf_client, answer).status_code == 403
    assert not FigureApproval.objects.exists()

    admin = Client()
    admin.force_login(staff)
    response = _approve(admin, answer)
    assert response.status_code == 302
    approved = wait_for(lambda: _finished("plot", run.pk), timeout=120)
    assert approved.run.status == "verified", list(approved.run.results.values("status", "error"))
    assert approved.run.results.get().checks["figures"][0]["match"] is True
    page = article_html(client, "plot")
    assert "Figure 1 matches the approved figure" in page
    assert "figures: 1 of 1 approved, all match" in page

    # An edit moves the curve by one data point: the cell fails as figure_mismatch.
    answer_save(question=approved.question, body=plot(shift=1), by=staff)
    broken = wait_for(lambda: _finished("plot", approved.run_id), timeout=120)
    result = broken.run.results.get()
    assert broken.run.status == "failed" and result.status == "figure_mismatch"
    assert "figure 1 differs from the approved figure" in result.error
    assert article_html(client, "plot") == page  # readers keep the verified revision
    review = admin.get(f"/admin/kb/question/{broken.question_id}/figures/").content.decode()
    assert 'class="kb-approved"' in review and 'class="kb-new"' in review and 'class="kb-diff"' in review
    assert "Figure differs from the approved one" in review
    assert "Approve the new figure 1 of cell 1" in review

    # One click approves the new figure: a new approval row, the old one kept.
    assert _approve(admin, broken).status_code == 302
    fixed = wait_for(lambda: _finished("plot", broken.run_id), timeout=120)
    assert fixed.run.status == "verified"
    assert FigureApproval.objects.filter(question=fixed.question).count() == 2
    page = article_html(client, "plot")
    assert "Figure 1 matches the approved figure" in page
    history = admin.get(f"/admin/kb/question/{fixed.question_id}/figures/").content.decode()
    assert history.count("<td>admin (run #") == 2  # both approvals in the history


NONDETERMINISTIC = """```python run
import time
print(time.time())
```

```python run
import random
random.seed()  # reseeded from the OS: the project's seeding no longer holds
print(random.random())
```
"""


def test_a_cell_using_the_clock_or_an_unseeded_random_is_caught_as_nondeterministic(
    client, cpu_worker, django_user_model
):
    answer = _publish("clock", NONDETERMINISTIC)
    assert answer.run.status == "failed"
    statuses = list(answer.run.results.values_list("status", flat=True))
    assert statuses == ["nondeterministic", "nondeterministic"]
    first = answer.run.results.first()
    assert first.checks["reproduction"]["output_diff"].startswith("--- first run\n+++ second run")
    assert first.checks["reproduction"]["second_output"] != first.output
    staff = django_user_model.objects.create_superuser("staff", "s@example.com", "pw-Staff-123")
    client.force_login(staff)
    review = client.get(f"/admin/kb/question/{answer.question_id}/figures/").content.decode()
    assert "The two runs disagree" in review and "kb-output-diff" in review
    assert first.output.strip() in review
    client.logout()

    marked = NONDETERMINISTIC.replace("```python run\n", "```python run nondeterministic=true\n")
    answer_save(question=answer.question, body=marked)
    allowed = wait_for(lambda: _finished("clock", answer.run_id), timeout=120)
    assert allowed.run.status == "verified"
    page = article_html(client, "clock")
    assert page.count("nondeterministic: its output may differ between runs") == 2


def test_reverification_catches_drift_from_the_verified_outputs_and_emails_how(
    client, cpu_worker, smtp_inbox, django_user_model
):
    django_user_model.objects.create_user("editor", "editor@example.com", is_staff=True)
    flag = Path("/srv/kb-test") / f"{uuid.uuid4().hex}.txt"
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.parent.chmod(0o755)
    flag.write_text("stable")
    flag.chmod(0o644)
    # No expected output: without the double run nothing would notice that it changed.
    body = f"```python run\nprint(open({str(flag)!r}).read())\n```\n"
    try:
        answer = _publish("drift", body)
        assert answer.published_verified
        flag.write_text("changed")
        assert answers_reverify_published(force=True) == 1
        failed = wait_for(lambda: _answer("drift").stopped_passing_at and _answer("drift"), timeout=120)
        result = failed.run.results.get()
        assert result.status == "nondeterministic"
        assert "the output differs between the verified run and the new run" in result.error
        message = wait_for(lambda: smtp_inbox.messages and smtp_inbox.messages[0], timeout=30)
        text = message.get_content()
        assert "cell 1 (line 1): Differs between two runs" in text
        assert "-stable" in text and "+changed" in text
    finally:
        flag.unlink(missing_ok=True)


def test_approved_figures_round_trip_through_import_articles(tmp_path, cpu_worker):
    answer = _publish("exported", plot())
    from answers.approvals import figure_approve

    figure_approve(question=answer.question, run_id=answer.run_id, cell_index=0, position=0, by=None)
    written = approvals_write_files(question=answer.question, directory=tmp_path / "figures" / "imported")
    assert [p.name for p in written] == ["cell-1-fig-1.png"]

    (tmp_path / "imported.md").write_text(f"---\ntitle: Imported\nslug: imported\n---\n{plot()}")
    articles_import(directory=tmp_path)
    imported = wait_for(lambda: _finished("imported"), timeout=120)
    approval = current_approvals(question=imported.question)[(0, 0)]
    assert approval.origin == "import" and approval.image.read() == written[0].read_bytes()
    assert imported.run.status == "verified"
    assert imported.run.results.get().checks["figures"][0]["match"] is True

    # A corrupt approved PNG beside the file: a clear authoring error on the cell, no crash.
    written[0].write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    articles_import(directory=tmp_path)
    broken = wait_for(lambda: _finished("imported", imported.run_id), timeout=120)
    result = broken.run.results.get()
    assert result.status == "figure_mismatch" and "authoring error" in result.error


def test_a_reader_sees_the_title_the_cell_gave_its_figure_in_the_alt_text_and_caption(client, cpu_worker):
    # The worker's sandbox reads each figure's titles; the page's defaults name them.
    titles = 'ax.set_title("Waves <sin & cos>")\nfig.suptitle("Two")'
    body = plot().replace("ax.legend()", f"ax.legend()\n{titles}")
    answer = _publish("titled", body)
    assert answer.run.status == "verified"
    stored = answer.run.results.get().figures.values_list("title", flat=True)
    assert list(stored) == ["Two (Waves <sin & cos>)"]
    html = article_html(client, "titled")
    assert 'alt="Figure 1 drawn by cell 1: Two (Waves &lt;sin &amp; cos&gt;)"' in html
    assert "<figcaption>Figure 1 of cell 1: Two (Waves &lt;sin &amp; cos&gt;) ·" in html
