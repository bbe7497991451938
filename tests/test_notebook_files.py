"""The notebooks as files: one setup cell everywhere, one repository address and release, a Colab link, no stored
outputs, all in the toc."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _config_repository() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            files.append(chapter["file"])
            files.extend(section["file"] for section in chapter.get("sections", []))
    return files


def test_there_are_chapters():
    names = [p.name for p in NOTEBOOKS]
    assert "00_how_to_use.ipynb" in names and "01_attention_as_soft_lookup.ipynb" in names


def _release() -> str:
    return "v" + re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M).group(1)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_setup_cell_is_shared_and_installs_the_configured_repository_at_the_release(path):
    reference = "".join(_cells(ROOT / "notebooks" / "01_attention_as_soft_lookup.ipynb")[1]["source"])
    code_cells = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert "".join(code_cells[0]["source"]) == reference, f"{path.name}: the first code cell must be the setup cell"
    match = re.search(r'REPOSITORY = "([^"]+)"\nRELEASE = "([^"]+)"\n', reference)
    assert match, "the setup cell must set REPOSITORY and RELEASE (the git tag it installs)"
    assert match.group(1) == _config_repository(), "run `make retarget` to write _config.yml's address everywhere"
    assert match.group(2) == _release(), f"the setup cell installs {match.group(2)}, the package is {_release()}"
    assert 'f"git+{REPOSITORY}@{RELEASE}"' in reference


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_cell_links_to_the_colab_edition_at_the_release(path):
    owner_repo = _config_repository().removeprefix("https://github.com/")
    link = f"https://colab.research.google.com/github/{owner_repo}/blob/{_release()}/colab/{path.name}"
    first = "".join(_cells(path)[0]["source"])
    assert f"[Open in Colab]({link})" in first, f"{path.name}: its first cell must link to {link}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_repository_link_agrees_with_config(path):
    url = _config_repository()
    owner_repo = url.removeprefix("https://github.com/")
    text = path.read_text()
    for found in re.findall(r"github(?:\.com)?/([\w.-]+/[\w.-]+)", text):
        assert found == owner_repo, f"{path.name} links to {found}, but _config.yml says {owner_repo}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, f"{path.name}: strip the outputs"


def test_every_notebook_is_in_the_toc_and_every_toc_file_exists():
    toc = _toc_files()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in toc, f"{path.name} is not in book/_toc.yml"
    for entry in toc:
        assert any((ROOT / f"{entry}{suffix}").exists() for suffix in (".md", ".ipynb")), f"toc entry {entry} is missing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_citations_exist_in_the_bibliography(path):
    keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text(), re.M))
    for cell in _cells(path):
        if cell["cell_type"] == "markdown":
            for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", "".join(cell["source"])):
                for key in group.split(","):
                    assert key.strip() in keys, f"{path.name} cites {key.strip()}, which is not in references.bib"
