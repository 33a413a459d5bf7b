"""Review before publishing with real runs: the reviewer sees both revisions' outputs and figures,
requests changes, the author revises and resubmits, the reviewer approves; readers see the
published revision throughout and the approved one once it verified."""

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.files.storage import default_storage

from answers.models import Answer, ReviewEvent
from answers.services import answer_save
from kb.models import Question
from kb.services import question_publish
from tests.support.article_html import article_html
from tests.support.reviewers import reviewers_group
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

V1 = """Ones add up.

```python run
import numpy as np
print("sum =", int(np.ones(3).sum()))
```

```python run
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(["a", "b"], [1, 2])
```
"""
V2 = V1.replace("Ones add up.", "Four ones add up.").replace("ones(3)", "ones(4)").replace("[1, 2]", "[2, 1]")
V3 = V2.replace("Four ones add up.", "Four ones add up to four.")




def _finished(question_id):
    answer = Answer.objects.select_related("run").get(question_id=question_id)
    return answer if answer.run and answer.run.is_finished else None


def _user(django_user_model, name, perms=(), reviewer=False):
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw-Long-123", is_staff=True)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    if reviewer:
        user.groups.add(reviewers_group())
    return user


def _imgs(html: str, alt_part: str) -> list[str]:
    return re.findall(rf'<img src="([^"]+)" alt="[^"]*{re.escape(alt_part)}[^"]*"', html)


def test_request_changes_edit_resubmit_approve_with_real_runs(client, cpu_worker, django_user_model):
    author = _user(
        django_user_model, "author", ["kb.change_question", "kb.view_question", "answers.change_answer"]
    )
    reviewer = _user(django_user_model, "reviewer", reviewer=True)
    question = Question.objects.create(title="Summing ones", slug="summing-ones")
    answer_save(question=question, body=V1)  # a command's save: approved as before review existed
    question_publish(question=question)
    wait_for(lambda: _finished(question.pk), timeout=90)
    published = article_html(client, "summing-ones")
    assert "sum = 3" in published and "<strong>Verified</strong>" in published

    answer_save(question=question, body=V2, by=author)
    answer = wait_for(lambda: _finished(question.pk), timeout=90)
    assert answer.run.status == "verified" and answer.published_revision.number == 1
    assert article_html(client, "summing-ones") == published  # verified, yet not approved: unchanged

    review_url = f"/admin/kb/question/{question.pk}/review/"
    client.force_login(author)
    client.post(review_url + "submit/", {"comment": "Four instead of three."})
    assert article_html(client, "summing-ones") == published

    client.force_login(reviewer)
    page = client.get(review_url).content.decode()
    assert "<del>Ones</del><ins>Four ones</ins> add up." in page
    assert (
        '<span class="kb-line kb-line--removed">- print(&quot;sum =&quot;, int(np.ones(3).sum()))</span>'
        in page
    )
    assert (
        '<span class="kb-line kb-line--added">+ print(&quot;sum =&quot;, int(np.ones(4).sum()))</span>'
        in page
    )
    assert '<span class="kb-line kb-line--same">  import numpy as np</span>' in page
    before = re.findall(r'kb-output--before"[^>]*>([^<]*)<', page)
    after = re.findall(r'kb-output--after"[^>]*>([^<]*)<', page)
    assert before[0].strip() == "sum = 3" and after[0].strip() == "sum = 4"
    old_figure, new_figure = _imgs(page, "published revision"), _imgs(page, "revision 2")
    assert len(old_figure) == 1 and len(new_figure) == 1 and old_figure != new_figure
    for url in old_figure + new_figure:  # the images the worker stored for each run
        assert default_storage.exists(url.removeprefix(settings.MEDIA_URL)), url

    client.post(review_url + "request-changes/", {"revision": "2", "comment": "Say what it sums to."})
    question.refresh_from_db()
    assert question.review_state == "draft"

    client.force_login(author)
    answer_save(question=question, body=V3, by=author)  # prose only: the run is reused
    answer = wait_for(lambda: _finished(question.pk), timeout=90)
    client.post(review_url + "submit/")
    assert article_html(client, "summing-ones") == published

    client.force_login(reviewer)
    page = client.get(review_url).content.decode()
    assert "Approve and publish revision 3" in page
    client.post(review_url + "approve/", {"revision": "3", "comment": "Good."})
    answer = Answer.objects.get(question=question)
    assert answer.published_revision.number == 3
    now = article_html(client, "summing-ones")
    assert (
        "sum = 4" in now
        and "sum = 3" not in now
        and "Four ones add up to four." in now
        and "<strong>Verified</strong>" in now
    )

    steps = list(
        ReviewEvent.objects.filter(question=question)
        .order_by("at", "pk")
        .values_list("action", "revision__number", "by__username", "comment")
    )
    assert steps == [
        ("submitted", 2, "author", "Four instead of three."),
        ("changes_requested", 2, "reviewer", "Say what it sums to."),
        ("submitted", 3, "author", ""),
        ("approved", 3, "reviewer", "Good."),
    ]
    client.force_login(reviewer)
    history = client.get(f"/admin/kb/question/{question.pk}/change/").content.decode()
    assert history.index("Say what it sums to.") > history.index("Good.")  # newest first
