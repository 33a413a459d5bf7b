"""Jupyter's way of running cells, through the real worker pool: magics, display(), a trailing
`;`, IPython's pretty-printer, rich reprs on the page (sanitised), a wide DataFrame as a
kernel prints it, and the seed contract of the double run."""

import re

import pytest

from answers.models import Answer
from answers.services import answer_save
from kb.models import Question
from kb.services import question_publish
from runner.models import RunCell
from tests.support.article_html import article_html
from tests.support.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# What Jupyter stores as the text/plain of this frame: pandas under a kernel (display.width 80,
# display.max_columns 20) wraps the columns in blocks and prints no dimensions line. A plain
# interpreter cuts it to the terminal (`...`) and adds "[5 rows x 12 columns]".
WIDE_FRAME_AS_JUPYTER_STORES = """\
   column_0  column_1  column_2  column_3  column_4  column_5  column_6  \\
0         0      1000      2000      3000      4000      5000      6000
1     12000     13000     14000     15000     16000     17000     18000
2     24000     25000     26000     27000     28000     29000     30000
3     36000     37000     38000     39000     40000     41000     42000
4     48000     49000     50000     51000     52000     53000     54000

   column_7  column_8  column_9  column_10  column_11
0      7000      8000      9000      10000      11000
1     19000     20000     21000      22000      23000
2     31000     32000     33000      34000      35000
3     43000     44000     45000      46000      47000
4     55000     56000     57000      58000      59000
"""

NOTEBOOK = f"""## Notebook idioms

```python run
%matplotlib inline
import numpy as np
int
```

```output
int
```

```python run
x = 5
x;
```

```python run
%time total = sum(range(10))
%timeit -n 2 -r 2 sum(range(10))
total
```

```output
CPU times: user 21 µs, sys: 0 ns, total: 21 µs
Wall time: 25 µs
312 ns ± 12.3 ns per loop (mean ± std. dev. of 2 runs, 2 loops each)
45
```

```python run
%%time
squares = [n * n for n in range(4)]
squares
```

```python run
from IPython.display import HTML, Markdown, display
import pandas as pd

display(HTML('<b>bold</b><script>alert("html")</script><img src=x onerror=alert(1)>'))
print("between")
display(Markdown("### From Markdown\\n\\n<script>alert('md')</script>*emphasis*"))

class Hostile:
    def _repr_html_(self):
        return "<table><tr><td onclick='steal()'>cell</td></tr></table><script>alert('value')</script>"
    def __repr__(self):
        return "Hostile()"

display(Hostile())
pd.DataFrame({{"name": ["<i>a</i>", "b"], "value": [1, 2]}})
```

```python run
import pandas as pd
pd.DataFrame(np.arange(60).reshape(5, 12) * 1000, columns=[f"column_{{i}}" for i in range(12)])
```

```output
{WIDE_FRAME_AS_JUPYTER_STORES}```

```python run
import io
import matplotlib.pyplot as plt
from IPython.display import SVG

class Chart:
    def _repr_png_(self):
        figure = plt.figure(figsize=(2, 1))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
        return buffer.getvalue()

display(Chart())
SVG('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">'
    '<script>alert(1)</script><rect width="20" height="20"/></svg>')
```

```python run seed=fixed
print(np.random.randint(0, 1000), get_ipython() is not None)
```
"""

UNSEEDED = """## Unseeded draws

```python run
import random
print(random.random())
```

```python run
import numpy as np
np.random.seed(7)
print(np.random.randint(0, 10**6))
```
"""


def _published(slug, body) -> Answer:
    question = Question.objects.create(title=f"Question {slug}", slug=slug)
    answer_save(question=question, body=body)
    question_publish(question=question)

    def finished():
        answer = Answer.objects.select_related("run").get(question__slug=slug)
        return answer if answer.run is not None and answer.run.is_finished else None

    return wait_for(finished, timeout=240)




def test_notebook_idioms_run_as_in_jupyter_and_rich_outputs_reach_the_page_sanitised(client, cpu_worker):
    answer = _published("notebook-idioms", NOTEBOOK)
    cells = {cell.index: cell for cell in RunCell.objects.filter(run=answer.run)}
    statuses = {index: cell.status for index, cell in cells.items()}
    assert answer.run.twice and answer.run.status == "verified", (statuses, [c.error for c in cells.values()])

    assert cells[0].output == "int"  # IPython's pretty-printer, not <class 'int'>
    assert cells[1].output == ""  # a trailing `;` hides the value
    assert cells[2].status == "passed"  # the timing lines are never compared, the value is
    assert (
        "Wall time:" in cells[2].output
        and "per loop (mean ± std. dev. of 2 runs, 2 loops each)" in cells[2].output
    )
    assert cells[3].output.startswith("CPU times: user ") and cells[3].output.endswith("[0, 1, 4, 9]")
    assert cells[4].output.splitlines()[:2] == ["<IPython.core.display.HTML object>", "between"]
    assert [d["kind"] for d in cells[4].displays] == ["text/html", "text/markdown", "text/html", "text/html"]
    assert cells[5].status == "passed" and "[5 rows x 12 columns]" not in cells[5].output
    assert cells[6].figures.count() == 1 and cells[6].displays[0]["kind"] == "image/svg+xml"
    assert cells[7].output.rstrip().endswith(" True")

    article = article_html(client, "notebook-idioms")
    # What the cells showed, without their code (which quotes the hostile HTML, escaped).
    shown = re.sub(r'<div class="highlight cell__code">.*?</code></pre></div>', "", article, flags=re.S)
    assert "alert(" in article and "alert(" not in shown.split("data:image/svg+xml")[0]
    assert "<script" not in shown.replace('<script src="/static/js/run_progress', "")
    assert "onerror" not in shown and "onclick" not in shown
    assert "<b>bold</b>" in article and "<h3>From Markdown</h3>" in article and "<em>emphasis</em>" in article
    # The DataFrame is a table on the page, its text kept for comparison only.
    assert "<th>name</th>" in article and "&lt;i&gt;a&lt;/i&gt;" in article
    cell5 = shown[shown.index('id="cell-5"') : shown.index('id="cell-6"')]
    assert "Hostile()" not in cell5 and "<td>cell</td>" in cell5
    assert "between" in cell5 and "&lt;IPython.core.display.HTML object&gt;" not in cell5
    assert 'src="data:image/svg+xml;base64,' in article and 'alt="Image displayed by cell 7"' in article


def test_a_cell_drawing_from_the_unseeded_global_state_is_caught_by_the_second_run(cpu_worker):
    answer = _published("unseeded-draws", UNSEEDED)
    first, second = RunCell.objects.filter(run=answer.run).order_by("index")
    assert answer.run.twice and answer.run.status == "failed"
    assert first.status == "nondeterministic"
    assert "depends on the global random state: seed it, or mark it nondeterministic=true" in first.error
    assert "(random drawn without a seed of its own" in first.error
    assert second.status == "ran"  # seeded by its author: the same number in both runs
