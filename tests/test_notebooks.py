"""The notebooks are committed clean: valid nbformat v4, a python3 kernel, no outputs.

Executing them is nbmake's job (``pytest --nbmake notebooks``); this module checks what a
reviewer sees in a diff. Stripped outputs keep diffs reviewable and the files small, and
make every figure in a reader's session one they generated themselves.

To strip a notebook after working in it::

    jupyter nbconvert --clear-output --inplace notebooks/NAME.ipynb
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {
    "01-ring-basics.ipynb",
    "02-algorithms-compared.ipynb",
    "03-failure-and-recovery.ipynb",
    "04-backoff-and-jitter.ipynb",
}


def test_the_notebooks_exist() -> None:
    assert {path.name for path in NOTEBOOKS} >= EXPECTED


@pytest.fixture(params=NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def notebook(request: pytest.FixtureRequest) -> tuple[Path, dict]:
    path: Path = request.param
    return path, json.loads(path.read_text(encoding="utf-8"))


def test_valid_nbformat_v4(notebook: tuple[Path, dict]) -> None:
    path, _ = notebook
    parsed = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    assert parsed.nbformat == 4, f"{path.name}: nbformat {parsed.nbformat}, expected 4"
    nbformat.validate(parsed)  # raises ValidationError naming the bad field


def test_python3_kernelspec(notebook: tuple[Path, dict]) -> None:
    path, data = notebook
    kernelspec = data.get("metadata", {}).get("kernelspec", {})
    assert kernelspec.get("name") == "python3", f"{path.name}: kernelspec {kernelspec!r}"
    assert kernelspec.get("language", "python") == "python"


def test_outputs_stripped(notebook: tuple[Path, dict]) -> None:
    path, data = notebook
    dirty = [
        index
        for index, cell in enumerate(data["cells"])
        if cell["cell_type"] == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} have outputs or an execution count; "
        f"run `jupyter nbconvert --clear-output --inplace {path.relative_to(NOTEBOOK_DIR.parent)}`"
    )


def test_no_widget_state_or_attachments(notebook: tuple[Path, dict]) -> None:
    path, data = notebook
    assert "widgets" not in data.get("metadata", {}), f"{path.name}: widget state saved"
    with_attachments = [i for i, cell in enumerate(data["cells"]) if cell.get("attachments")]
    assert not with_attachments, f"{path.name}: cells {with_attachments} carry attachments"


def test_starts_with_a_title(notebook: tuple[Path, dict]) -> None:
    path, data = notebook
    first = data["cells"][0]
    assert first["cell_type"] == "markdown", f"{path.name}: first cell is not markdown"
    source = "".join(first["source"]) if isinstance(first["source"], list) else first["source"]
    assert source.lstrip().startswith("# "), f"{path.name}: first cell has no '# ' title"
