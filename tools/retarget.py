"""Point the book at another repository: write its address everywhere a reader or a grader follows it.

    python tools/retarget.py https://github.com/OWNER/REPO    # a fork: the new address, written everywhere
    python tools/retarget.py                                  # after a version bump: every copy brought in line

The address is configured in one place, ``_config.yml``'s ``repository.url``; the release a reader installs is the
git tag ``v<version>`` of ``pyproject.toml``'s version; the rendered book is at ``html.baseurl``, which follows the
repository when it is the repository's GitHub Pages address. Everything else holds copies of the two, and this command
rewrites them: the setup cell of every chapter (written whole from ``SETUP_CELL``, so a new chapter may start from
any copy) and of every student notebook, each chapter's "Open in Colab" link (added under the title if missing), the
instructor's exercise listing (``course/exercises.md``), the README, and the Colab editions (``colab/``, regenerated
by ``tools/colab.py``). The autograder's requirements are written from the same two values each time
``make assignments`` runs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GITHUB = re.compile(r"^https://github\.com/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+)$")
# Files that hold copies of the address, relative to the repository root (colab/ is regenerated instead).
COPIES = ("notebooks/*.ipynb", "course/*.ipynb", "course/exercises.md", "README.md", "CONTRIBUTING.md", "book/*.md")


class RetargetError(ValueError):
    """The address or the configuration cannot be used as given."""


@dataclass(frozen=True)
class Address:
    """Where the book's package and notebooks are published: the repository, its Colab front door, the release."""

    repository: str  # https://github.com/OWNER/REPO
    colab: str  # https://colab.research.google.com
    release: str  # the git tag of this version of the book, e.g. v0.1.0

    @property
    def owner_repo(self) -> str:
        return self.repository.removeprefix("https://github.com/")

    def colab_link(self, notebook: str) -> str:
        """The Colab URL that opens ``notebook`` (a path in the repository) as it is at this release."""
        return f"{self.colab}/github/{self.owner_repo}/blob/{self.release}/{notebook}"

    @property
    def pages(self) -> str:
        """The book's address on GitHub Pages, where a fork's build is published by default."""
        owner, name = self.owner_repo.split("/")
        return f"https://{owner.lower()}.github.io/{name}/"

    @property
    def requirement(self) -> str:
        """The pip requirement that installs this release of the package."""
        return f"attnmem @ git+{self.repository}@{self.release}"


def check_repository(url: str) -> str:
    """``url`` if it is a GitHub repository's address (Colab opens notebooks from GitHub only), else a clear error."""
    if not GITHUB.match(url):
        raise RetargetError(
            f"{url!r} is not a GitHub repository address; give it as https://github.com/OWNER/REPO "
            "(no trailing slash or .git): Colab can only open notebooks from GitHub"
        )
    return url


def address(root: Path = ROOT) -> Address:
    """The book's address as configured in ``root``'s ``_config.yml`` and ``pyproject.toml``."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    version = re.search(r'^version = "([^"]+)"$', (root / "pyproject.toml").read_text(), re.M)
    if version is None:
        raise RetargetError(f"{root / 'pyproject.toml'}: no `version = \"...\"` line in [project]")
    return Address(
        repository=check_repository(config["repository"]["url"]),
        colab=config["launch_buttons"]["colab_url"].rstrip("/"),
        release=f"v{version.group(1)}",
    )


def _set_config(root: Path, section: str, key: str, value: str) -> None:
    """Rewrite ``section.key`` in ``_config.yml`` in place, keeping its comments."""
    path = root / "_config.yml"
    text = path.read_text()
    block = re.search(rf"^{section}:\n((?:[ \t]+.*\n|\s*\n)*)", text, re.M)
    line = re.compile(rf"^\s+{key}:\s*(?P<value>\S+)\s*$", re.M).search(text, block.start(1), block.end(1)) if block else None
    if line is None:
        raise RetargetError(f"{path}: found no `{key}:` line under `{section}:`; add one, e.g. `  {key}: {value}`")
    path.write_text(text[: line.start("value")] + value + text[line.end("value") :])


def rewrite_copies(root: Path, old: Address, new: Address) -> list[Path]:
    """Replace ``old``'s address and release by ``new``'s in every file of COPIES; return the files changed."""
    changed = []
    for pattern in COPIES:
        for path in sorted(root.glob(pattern)):
            text = path.read_text()
            updated = text.replace(old.pages, new.pages).replace(old.owner_repo, new.owner_repo)
            updated = re.sub(r'(RELEASE = \\?")v[\w.-]+(\\?")', rf"\g<1>{new.release}\g<2>", updated)
            updated = updated.replace(f"/blob/{old.release}/", f"/blob/{new.release}/")
            if updated != text:
                path.write_text(updated)
                changed.append(path)
    return changed


SETUP_CELL = """\
# Setup (the same in every chapter): on Colab, install the book's package, the release this book was made from.
import importlib.util
import subprocess
import sys

REPOSITORY = "{repository}"
RELEASE = "{release}"
if importlib.util.find_spec("attnmem") is None:
    if "google.colab" not in sys.modules:
        raise ModuleNotFoundError("attnmem is not installed: run `make lab` in the repository, or `pip install -e .`")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", f"git+{{REPOSITORY}}@{{RELEASE}}"], check=True)
import attnmem

print("attnmem", attnmem.__version__)"""
BADGE = re.compile(r"^\[Open in Colab\]\([^)]*\)\n\n?", re.M)


def sync_chapter(path: Path, where: Address) -> bool:
    """Give a chapter notebook the setup cell and, under its title, the "Open in Colab" link of ``where``.

    Returns whether the file changed. A chapter whose first code cell is not a setup cell is an error.
    """
    notebook = json.loads(path.read_text())
    cells = notebook["cells"]
    setup = next((c for c in cells if c["cell_type"] == "code"), None)
    if setup is None or not "".join(setup["source"]).startswith("# Setup (the same in every chapter)"):
        raise RetargetError(f"{path}: the first code cell must be the setup cell; copy it from chapter 1")
    setup["source"] = SETUP_CELL.format(repository=where.repository, release=where.release).splitlines(keepends=True)
    title, _, rest = "".join(cells[0]["source"]).partition("\n")
    rest = BADGE.sub("", rest.lstrip("\n"))
    badge = f"[Open in Colab]({where.colab_link(f'colab/{path.name}')})"
    cells[0]["source"] = f"{title}\n\n{badge}\n\n{rest}".rstrip("\n").splitlines(keepends=True)
    text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    if text == path.read_text():
        return False
    path.write_text(text)
    return True


def retarget(root: Path, url: str | None, released: str | None = None) -> list[Path]:
    """Point the book in ``root`` at ``url`` (None: keep its address) and bring every copy in line.

    ``released``: the release tag the copies name now (default: the one in the first chapter's setup cell).
    """
    old = address(root)
    if released is None:
        setup = (root / "notebooks" / "01_attention_as_soft_lookup.ipynb").read_text()
        found = re.search(r'RELEASE = \\"(v[\w.-]+)\\"', setup)
        released = found.group(1) if found else old.release
    old = Address(old.repository, old.colab, released)
    book = (yaml.safe_load((root / "_config.yml").read_text()).get("html") or {}).get("baseurl")
    if url is not None:
        _set_config(root, "repository", "url", check_repository(url))
    new = address(root)
    if book == old.pages and new.pages != old.pages:  # published on the old repository's Pages: the fork's own
        _set_config(root, "html", "baseurl", new.pages)
    changed = rewrite_copies(root, old, new)
    changed += [path for path in sorted((root / "notebooks").glob("*.ipynb")) if sync_chapter(path, new)]
    sys.path.insert(0, str(root / "tools"))
    import colab  # noqa: E402  (tools/ is not a package)

    return changed + colab.write_editions(root, root / "colab")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="the new address, https://github.com/OWNER/REPO (default: keep)")
    args = parser.parse_args(argv)
    try:
        changed = retarget(ROOT, args.url)
    except RetargetError as error:
        print(f"retarget: {error}", file=sys.stderr)
        return 2
    new = address(ROOT)
    print(f"the book now points at {new.repository}, release {new.release}; {len(changed)} files rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
