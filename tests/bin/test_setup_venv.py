"""bin/setup-venv says what it does: a line per package while it installs, a plain
line when the lock is already installed, pip's errors shown, and none of this machine's
pip-configuration noise. The real script runs in a scratch checkout on a lock of one tiny
wheel built here, so the test installs nothing big and needs no network."""

import base64
import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _wheel(directory: Path) -> Path:
    name, version = "kbtiny", "0.1"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def digest(data: bytes) -> str:
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

    record = "".join(f"{path},{digest(data)},{len(data)}\n" for path, data in files.items())
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
    return wheel


def _lock(path: Path, wheel: Path, sha256: str) -> Path:
    path.write_text(f"kbtiny @ {wheel.as_uri()} \\\n    --hash=sha256:{sha256}\n")
    return path


def _setup_venv(checkout: Path, lock: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(checkout / "bin" / "setup-venv"), lock.name],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_install_says_each_package_and_a_second_call_says_it_is_installed(tmp_path):
    (tmp_path / "bin").mkdir()
    shutil.copy(ROOT / "bin" / "setup-venv", tmp_path / "bin" / "setup-venv")
    wheel = _wheel(tmp_path)
    lock = _lock(tmp_path / "tiny.lock", wheel, hashlib.sha256(wheel.read_bytes()).hexdigest())

    first = _setup_venv(tmp_path, lock)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("Python packages: creating .venv with Python 3.") and "1 packages" in lines[0]
    assert any(line.startswith("  [1/1] ") and "kbtiny" in line for line in lines)
    assert "Successfully installed kbtiny-0.1" in first.stdout
    assert lines[-1] == "Python packages: tiny.lock installed"
    assert "WARNING: Location" not in first.stdout + first.stderr
    assert (tmp_path / ".venv" / "lib" / "python3.11" / "site-packages" / "kbtiny").is_dir()

    again = _setup_venv(tmp_path, lock)
    assert again.returncode == 0
    assert again.stdout == "Python packages: tiny.lock is installed in .venv\n"

    # A lock whose hash does not match fails, and says why (pip's own error is shown).
    bad = _lock(tmp_path / "bad.lock", wheel, "0" * 64)
    failed = _setup_venv(tmp_path, bad)
    assert failed.returncode != 0
    assert "Python packages: installing bad.lock into .venv" in failed.stdout
    assert "HASHES" in failed.stdout or "hash" in failed.stdout.lower()
    assert "bad.lock installed" not in failed.stdout


def test_the_projects_own_installed_lock_is_a_one_line_no_op():
    # bin/test installed requirements-dev.lock before this test runs.
    done = subprocess.run(
        [str(ROOT / "bin" / "setup-venv"), "requirements-dev.lock"], cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout == "Python packages: requirements-dev.lock is installed in .venv\n"
