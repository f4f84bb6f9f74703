"""docs/architecture.md is the project's own design note: the README links it, the product names no
design file outside the repository, and every module the note names exists."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
OUTSIDE_DESIGN = "../" + "shared"  # spelt in two parts so this file does not name it


def _tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_readme_links_the_architecture_note() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/architecture.md)" in readme
    assert DOC.is_file()


def test_no_file_points_outside_the_repository_for_the_design() -> None:
    naming = [str(p.relative_to(ROOT)) for p in _tracked_files()
              if p.is_file() and OUTSIDE_DESIGN in p.read_text(encoding="utf-8", errors="replace")]
    assert not naming, f"these files point to a design note outside the repository: {naming}"


def test_every_path_the_note_names_exists() -> None:
    named = set(re.findall(r"`((?:idp|signing|keystore|clients|tests|benchmarks)/[\w./]*)`",
                           DOC.read_text(encoding="utf-8")))
    assert len(named) > 30, "the behaviour table seems gone"
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"
