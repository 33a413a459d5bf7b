"""A run executes one ordered list of cells on the worker pool and keeps every cell's result.

runner knows nothing of questions or answers: answers asks for a run of its cells through
runner.services, keeps a reference to it and reads it back through runner.results.
"""

import hashlib

from django.db import models

from .engine.protocol import CellStatus as EngineCellStatus


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    WAITING_GPU = "waiting_gpu", "Waiting for a GPU worker"
    RUNNING = "running", "Running"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Failed"
    # The infrastructure failed it (database, storage, fork server) on every attempt;
    # nothing is known of its cells, so it is not a failure of the answer.
    FAULT = "fault", "Infrastructure fault"


FINISHED = (RunStatus.VERIFIED, RunStatus.FAILED, RunStatus.FAULT)


class Run(models.Model):
    key = models.CharField(max_length=64, db_index=True, help_text="Execution key: cells + environment.")
    cells = models.JSONField(help_text="The cells as run: code, options, expected output, line.")
    queue = models.CharField(max_length=10, default="cpu")
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED)
    forced = models.BooleanField(default=False, help_text="Requested past the cache.")
    # A new revision runs twice, in two independent sandboxes, to prove it reproduces.
    twice = models.BooleanField(default=False, help_text="Ran twice to check the outputs reproduce.")
    cells_done = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    # Which start of that worker claimed the run: a worker restarted under the same name is
    # another instance, so the sweep can tell its predecessor's runs are orphaned.
    worker_instance = models.CharField(max_length=32, blank=True)
    # When the job reached the broker; None: never (the broker was down), so the sweep sends it.
    queued_at = models.DateTimeField(null=True, blank=True)
    fingerprint = models.JSONField(default=dict, blank=True)
    sandbox = models.JSONField(default=dict, blank=True)
    detail = models.TextField(blank=True)
    # The last infrastructure fault that ended an attempt, kept when a later attempt
    # succeeds, so staff can see the run was retried and why.
    # A database default too: web or worker processes of the previous release insert runs
    # without this column while the migration applies (docs/deploy.md, Upgrading).
    fault = models.TextField(
        blank=True, default="", db_default="", help_text="The last infrastructure fault that ended an attempt"
    )
    # The answer's data files, [{"name", "sha256", "size"}] in name order; their contents are
    # DataFile rows. A database default too, for workers of the previous release.
    files = models.JSONField(default=list, blank=True, db_default=[])

    class Meta:
        ordering = ["-requested_at"]
        indexes = [
            models.Index(fields=["key", "status"]),
            # The Pool page reads the runs started in the last hour (runner.selectors.wait_percentiles).
            models.Index(fields=["started_at"], name="runner_run_started_at_idx"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.status})"

    @property
    def cell_count(self) -> int:
        return len(self.cells)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


_CELL_STATUS_LABELS = {
    EngineCellStatus.MISMATCH: "Output differs",
    EngineCellStatus.TIMEOUT: "Timed out",
    EngineCellStatus.FIGURE_MISMATCH: "Figure differs from the approved one",
    EngineCellStatus.NONDETERMINISTIC: "Differs between two runs",
}

# One source of truth: the engine's statuses (runner/engine/protocol.py), as model choices.
CellStatus = models.TextChoices(
    "CellStatus",
    [
        (
            status.name,
            (status.value, _CELL_STATUS_LABELS.get(status, status.value.replace("_", " ").capitalize())),
        )
        for status in EngineCellStatus
    ],
)


OK_CELL_STATUSES = (CellStatus.PASSED, CellStatus.RAN)


class RunCell(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="results")
    index = models.PositiveIntegerField()
    line = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=CellStatus.choices)
    output = models.TextField(blank=True)
    expected = models.TextField(null=True, blank=True)  # noqa: DJ001 (None: no expected output given)
    stderr = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_s = models.FloatField(default=0)
    peak_memory_bytes = models.BigIntegerField(null=True, blank=True)
    # runner/checked_runs.py: {"figures": [comparison with the approved image, per figure],
    # "second": {"status", "output", "figures": [paths]}, "reproduced": bool} (see run_checks).
    checks = models.JSONField(default=dict, blank=True)
    # Rich outputs in order, as the cell runner formatted them ({"kind": "text/html" |
    # "text/markdown" | "image/svg+xml", "content", "text": its text/plain in `output`,
    # "trailing"}); stored as written, sanitised when a page renders them.
    displays = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            # A redelivered job overwrites its cells' rows instead of adding a second result.
            models.UniqueConstraint(fields=["run", "index"], name="one_result_per_cell")
        ]

    def __str__(self) -> str:
        return f"Cell {self.index} of run {self.run_id}: {self.status}"

    @property
    def ok(self) -> bool:
        return self.status in OK_CELL_STATUSES


def figure_storage_path(digest: str) -> str:
    return f"figures/{digest[:2]}/{digest}.png"


def figure_path(instance: "RunFigure", filename: str) -> str:
    return figure_storage_path(instance.sha256)


class RunFigure(models.Model):
    cell = models.ForeignKey(RunCell, on_delete=models.CASCADE, related_name="figures")
    position = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    image = models.FileField(upload_to=figure_path, max_length=200)
    # The figure's own title as the cell drew it (suptitle, panel titles), for its default alt
    # text and caption; "" when it has none, and for runs stored before titles were.
    # A default in the database too: a worker of the previous release, still running while the
    # migration applies, inserts figures without this column (docs/deploy.md, Upgrading).
    title = models.CharField(max_length=300, blank=True, default="", db_default="")

    class Meta:
        ordering = ["cell", "position"]
        constraints = [models.UniqueConstraint(fields=["cell", "position"], name="one_figure_per_position")]

    def __str__(self) -> str:
        return self.image.name

    @staticmethod
    def digest(png: bytes) -> str:
        return hashlib.sha256(png).hexdigest()


class Worker(models.Model):
    """What a worker says it is; refreshed by its heartbeat."""

    name = models.CharField(max_length=200, unique=True)
    instance = models.CharField(max_length=32, blank=True, help_text="Changes on every start of the worker.")
    queues = models.JSONField(default=list)
    device = models.CharField(max_length=10, default="cpu")
    fingerprint = models.JSONField(default=dict)
    started_at = models.DateTimeField()
    last_heartbeat = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DataFile(models.Model):
    """The content of a data file some run reads, stored once per content hash."""

    sha256 = models.CharField(max_length=64, unique=True)
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    stored_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"data file {self.sha256[:12]} ({self.size} bytes)"
