"""What the runner's processes say to each other, and the limits a run is held to.

Every message is a 4-byte big-endian length and a JSON object: never pickle, since the
sandboxed child writes some of these frames and unpickling its bytes would hand it the server.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from dataclasses import asdict, dataclass, field
from enum import StrEnum

MAX_FRAME_BYTES = 256 * 1024 * 1024
# A figure's title longer than this is cut (with "…"): it becomes part of the figure's alt text.
FIGURE_TITLE_CHARS = 300
_HEADER = struct.Struct("!I")


class CellStatus(StrEnum):
    """Cell statuses, exactly as shared/DESIGN.md names them."""

    PASSED = "passed"
    RAN = "ran"
    MISMATCH = "mismatch"
    FIGURE_MISMATCH = "figure_mismatch"  # a figure differs from its approved image
    NONDETERMINISTIC = "nondeterministic"  # two independent runs disagreed
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    CRASHED = "crashed"
    SKIPPED = "skipped"


OK_STATUSES = frozenset({CellStatus.PASSED, CellStatus.RAN})


@dataclass(frozen=True)
class Limits:
    """Limits on one answer's run. Defaults suit a worker; tests pass smaller ones."""

    # Wall time for the whole answer; None: the sum of its cells' timeouts, at most 600 s.
    answer_timeout_s: float | None = None
    setup_timeout_s: float = 20.0
    # Memory the answer may use on top of the libraries the server preloaded (measured RSS of
    # the sandbox's processes; RLIMIT_DATA as a backstop on each process's private memory).
    memory_bytes: int = 2 * 1024**3
    # CPU seconds for the whole answer; None: answer wall time x threads + 5 s.
    cpu_s: float | None = None
    processes: int = 256  # RLIMIT_NPROC of the sandbox user (threads count too)
    file_bytes: int = 64 * 1024**2  # RLIMIT_FSIZE
    open_files: int = 256  # RLIMIT_NOFILE
    tmp_bytes: int = 128 * 1024**2  # size of the private /tmp (where the kernel allows one)
    tmp_inodes: int = 10_000
    output_bytes: int = 1024**2  # stdout + stderr + reprs of the whole answer
    repr_bytes: int = 64 * 1024
    traceback_bytes: int = 256 * 1024  # a traceback (and its last line) is cut to this
    figures_per_cell: int = 20
    figures_per_answer: int = 50
    figure_bytes: int = 2 * 1024**2
    figure_pixels: int = 4_000_000
    # Cells run single-threaded unless a job asks for more: with several threads, torch's and
    # MKL's reductions split work by what the machine is doing, so a training loop's numbers
    # changed with the worker's load (the batch-norm article's losses did) and two runs of one
    # revision could disagree. One thread gives the same numbers on every quiet or busy worker.
    threads: int | None = None  # None: one thread

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class CellResult:
    index: int
    line: int
    status: CellStatus
    output: str = ""
    expected: str | None = None
    stderr: str = ""
    error: str | None = None  # traceback, or why the runner stopped the cell
    figures: list[bytes] = field(default_factory=list)  # PNG images
    # Each figure's own title (suptitle and panel titles), "" for none; same length as figures.
    figure_titles: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    peak_memory_bytes: int | None = None
    # Rich outputs in order ({"kind": "text/html", "content", "text": its text/plain,
    # "trailing": the cell's value}); the page shows each in place of its text in `output`.
    displays: list[dict] = field(default_factory=list)
    # Global generators the cells so far drew from while they held the runner's seed.
    unseeded_random: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        data["status"] = str(self.status)
        data["figures"] = [base64.b64encode(png).decode() for png in self.figures]
        return data

    @classmethod
    def from_json(cls, data: dict) -> CellResult:
        data = dict(data)
        data["status"] = CellStatus(data["status"])
        data["figures"] = [base64.b64decode(png) for png in data["figures"]]
        return cls(**data)


@dataclass
class RunInfo:
    """Run-level facts, for provenance: what the sandbox got and how the run ended."""

    sandbox: dict = field(default_factory=dict)  # namespaces obtained, uid, limits applied
    started_at: float | None = None  # time.time()
    finished_at: float | None = None
    outcome: str = "finished"  # finished | timeout | memory_limit | output_limit | crashed
    detail: str = ""


def encode_frame(message: dict) -> bytes:
    data = json.dumps(message, separators=(",", ":")).encode()
    return _HEADER.pack(len(data)) + data


def write_frame(fd: int, message: dict) -> None:
    view = memoryview(encode_frame(message))
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict | None:
    """Blocking read of one frame from a trusted peer; None at end of file."""
    header = read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {size} bytes is too large")
    body = read_exactly(fd, size)
    if body is None:
        return None
    return json.loads(body)


class FrameDecoder:
    """Incremental decoder for frames from an untrusted, non-blocking pipe."""

    def __init__(self, max_bytes: int = MAX_FRAME_BYTES):
        self.max_bytes = max_bytes
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[dict]:
        """Frames completed by ``data``; raises ValueError on anything malformed."""
        self.buffer += data
        frames = []
        while len(self.buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.buffer)
            if size > self.max_bytes:
                raise ValueError(f"frame of {size} bytes is too large")
            if len(self.buffer) < _HEADER.size + size:
                break
            body = bytes(self.buffer[_HEADER.size : _HEADER.size + size])
            del self.buffer[: _HEADER.size + size]
            message = json.loads(body)
            if not isinstance(message, dict):
                raise ValueError("frame is not a JSON object")
            frames.append(message)
        return frames
