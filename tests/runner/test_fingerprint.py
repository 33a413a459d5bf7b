from answers.cells import parse_answer
from runner.engine.fingerprint import environment_fingerprint, execution_key

MARKDOWN = "```python run\nx = 1\n```\n\n```output\n1\n```\n"


def test_fingerprint_names_versions_and_device():
    fingerprint = environment_fingerprint()
    stack = {"pandas", "scipy", "scikit-learn", "ipython"}
    base = {"python", "torch", "numpy", "matplotlib", "device", "device_name", "cuda"}
    assert set(fingerprint) == base | stack
    assert fingerprint["torch"] and fingerprint["numpy"] and fingerprint["matplotlib"]
    assert all(fingerprint[name] for name in stack)
    assert fingerprint["device"] in {"cpu", "cuda"}
    if fingerprint["device"] == "cpu":
        assert fingerprint["cuda"] is None


def test_fingerprint_does_not_initialise_cuda():
    import torch

    environment_fingerprint.cache_clear()
    environment_fingerprint()
    assert not torch.cuda.is_initialized()


def test_execution_key_ignores_prose_and_follows_code_options_expected_and_environment():
    fingerprint = environment_fingerprint()
    key = execution_key(parse_answer(MARKDOWN).cells, fingerprint)
    assert key == execution_key(parse_answer("Intro prose.\n\n" + MARKDOWN + "\nMore.").cells, fingerprint)
    assert key != execution_key(parse_answer(MARKDOWN.replace("x = 1", "x = 2")).cells, fingerprint)
    assert key != execution_key(parse_answer(MARKDOWN.replace("run", "run timeout=5")).cells, fingerprint)
    assert key != execution_key(parse_answer(MARKDOWN.replace("\n1\n", "\n2\n")).cells, fingerprint)
    assert key != execution_key(parse_answer(MARKDOWN).cells, dict(fingerprint, torch="0.0"))
    assert key == execution_key(parse_answer(MARKDOWN).cells, dict(fingerprint, device_name="other"))


def test_fingerprint_does_not_import_torch():
    # The web and Celery main processes ask for it; importing torch there costs ~200 MB each.
    import subprocess
    import sys

    code = (
        "import sys; from runner.engine.fingerprint import environment_fingerprint as f; "
        "p = f(); print(p['torch'], p['device'], 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    version, device, imported = done.stdout.split()
    assert version.startswith("2.13.0") and device == "cpu" and imported == "False"


def test_a_new_version_of_the_data_science_stack_changes_the_key():
    cells = parse_answer(MARKDOWN).cells
    fingerprint = environment_fingerprint()
    for name in ("pandas", "scipy", "scikit-learn", "ipython"):
        assert execution_key(cells, fingerprint) != execution_key(cells, {**fingerprint, name: "0.0"})
