"""The engine package never imports Django: it runs in a bare interpreter (the fork server)."""

import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "runner" / "engine"

BLOCK_DJANGO = """
import importlib.abc, sys

class NoDjango(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "django" or name.startswith("django.") or name == "celery":
            raise ImportError(f"the engine imported {name}")
        return None

sys.meta_path.insert(0, NoDjango())
import importlib
for module in sys.argv[1:]:
    importlib.import_module(module)
print("ok", len(sys.argv) - 1)
"""


def test_every_engine_module_imports_without_django():
    modules = sorted(f"runner.engine.{p.stem}" for p in ENGINE.glob("*.py") if p.stem != "__init__")
    assert "runner.engine.sandbox" in modules and "runner.engine.forkserver" in modules
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_DJANGO, *modules],
        cwd=ENGINE.parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok {len(modules)}"


def test_the_blocker_catches_a_django_import():
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_DJANGO, "runner.models"],
        cwd=ENGINE.parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "the engine imported django" in result.stderr
