"""Promise 8: only safetensors and JSON are ever loaded; a pickle payload is refused, never executed."""

from __future__ import annotations

import ast
import pickle
import shutil
from pathlib import Path

import pytest

from interest_tools.errors import CheckpointError
from interest_tools.forecast import load_checkpoint
from interest_tools.store import _state as state
from tests.harness.stores import REPO, persistent_engine

PACKAGE = REPO / "interest_tools"


class Payload:
    """Unpickling this writes a file: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _plant(checkpoint: Path, name: str, marker: Path) -> None:
    (checkpoint / name).write_bytes(pickle.dumps(Payload(marker)))


@pytest.mark.parametrize(
    ("replace", "plant", "error"),
    [
        ("model.safetensors", "model.pt", "pickle-based files are never loaded"),  # weights only as a pickle
        (None, "model.safetensors", "not a readable safetensors file"),  # a pickle under the safetensors name
        (None, "config.json", "not valid JSON"),  # a pickle instead of the JSON config
    ],
)
def test_planted_pickle_is_refused_and_never_executed(
    replace: str | None, plant: str, error: str, tiny_store: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned.txt"
    checkpoint = tiny_store / state.FORECASTER
    if replace:
        (checkpoint / replace).unlink()
    _plant(checkpoint, plant, marker)
    with pytest.raises(CheckpointError, match=error):
        load_checkpoint(checkpoint)
    engine = persistent_engine(tiny_store)
    with pytest.raises(CheckpointError, match=error):
        engine.forecast("u1")
    with pytest.raises(CheckpointError):
        engine.recommend("u1", 3)
    assert not marker.exists(), "a pickle was executed"
    pickle.loads(pickle.dumps(Payload(tmp_path / "control.txt")))  # the payload is live: unpickling it
    assert (tmp_path / "control.txt").read_text() == "pwned"  # does write its file


def test_healthy_checkpoint_still_loads(tiny_store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_store / state.FORECASTER, copy)
    assert load_checkpoint(copy).model is not None


# ---------------------------------------------------------------------------------------------- static check

_PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def unsafe_loads(source: str, filename: str = "<source>") -> list[str]:
    """Every deserialisation that can run code: ``torch.load`` without ``weights_only=True``, pickle-family
    modules, ``numpy.load(allow_pickle=True)``, ``pandas.read_pickle`` and ``torch.jit.load``.
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{where}: imports {n}" for n in names if n.split(".")[0] in _PICKLE_MODULES]
        if not isinstance(node, ast.Call):
            continue
        func = ast.unparse(node.func)
        keywords = {k.arg: k.value for k in node.keywords}
        if func.endswith("load") and func.split(".")[0] in {"torch", "th"} and func != "torch.jit.load":
            weights_only = keywords.get("weights_only")
            if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                found.append(f"{where}: {func} without weights_only=True")
        if func in {"torch.jit.load", "pd.read_pickle", "pandas.read_pickle"} or func.endswith(".read_pickle"):
            found.append(f"{where}: {func}")
        if func in {"np.load", "numpy.load"}:
            allow = keywords.get("allow_pickle")
            if allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False):
                found.append(f"{where}: {func} with allow_pickle")
    return found


@pytest.mark.parametrize(
    ("snippet", "unsafe"),
    [
        ("import torch\nm = torch.load(p)", True),
        ("import torch\nm = torch.load(p, weights_only=False)", True),
        ("import torch\nm = torch.load(p, weights_only=flag)", True),
        ("import torch\nm = torch.load(p, weights_only=True)", False),
        ("import pickle", True),
        ("from joblib import load", True),
        ("import numpy as np\nx = np.load(p, allow_pickle=True)", True),
        ("import numpy as np\nx = np.load(p)", False),
        ("import pandas as pd\nx = pd.read_pickle(p)", True),
        ("from safetensors.torch import load_file\nx = load_file(p)", False),
        ("import json\nx = json.loads(s)", False),
    ],
)
def test_the_static_check_can_fail(snippet: str, unsafe: bool) -> None:
    assert bool(unsafe_loads(snippet)) is unsafe


def test_no_unsafe_deserialisation_anywhere_in_the_package() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20
    found = [hit for f in files for hit in unsafe_loads(f.read_text(encoding="utf-8"), str(f.relative_to(REPO)))]
    assert found == []
