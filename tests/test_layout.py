"""The package's layout keeps data flowing one way: tasks -> models -> training -> zoo -> chapters.

A model module holds the model and the functions a chapter teaches; it must not import training loops, the zoo or
checkpoint code, and the training code must not import the zoo. Checked by parsing each module's imports (at any
depth, so an import hidden inside a function counts too).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import attnmem

PACKAGE = Path(attnmem.__file__).parent
MODEL_MODULES = sorted(p for p in PACKAGE.glob("*.py")
                       if p.stem in {"attention", "pooling", "seq2seq", "memnet", "ntm", "act", "programmer",
                                     "transformer", "pointer"})
DOWNSTREAM_OF_MODELS = ("attnmem.training", "attnmem.zoo", "attnmem.checkpoint")


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, by absolute name (``from attnmem import zoo`` gives ``attnmem.zoo``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def reaches(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


def test_the_model_modules_are_all_checked():
    assert {p.stem for p in MODEL_MODULES} >= {"attention", "pooling", "seq2seq", "memnet", "ntm", "act",
                                               "programmer"}


@pytest.mark.parametrize("path", MODEL_MODULES, ids=lambda p: p.name)
def test_a_model_module_imports_no_training_zoo_or_checkpoint_code(path: Path):
    assert reaches(imported_modules(path), DOWNSTREAM_OF_MODELS) == []


@pytest.mark.parametrize("path", sorted((PACKAGE / "training").glob("*.py")), ids=lambda p: p.name)
def test_training_code_does_not_import_the_zoo(path: Path):
    assert reaches(imported_modules(path), ("attnmem.zoo",)) == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path):
    module = tmp_path / "hidden.py"
    module.write_text("def train():\n    from attnmem.training import fit\n    from attnmem import zoo\n")
    assert reaches(imported_modules(module), DOWNSTREAM_OF_MODELS) == ["attnmem.training", "attnmem.training.fit",
                                                                       "attnmem.zoo"]
