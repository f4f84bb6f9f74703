"""The import rules of docs/architecture.md, checked on the source: keystore <- signing <- idp, clients
apart (they speak HTTP), and no Flask below idp.

Every import statement counts, also those inside functions, and relative imports are resolved first.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLASK = ("flask", "flask_login", "flask_wtf", "flask_limiter", "werkzeug", "wtforms", "jinja2")
#: package -> top-level modules it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "keystore": ("signing", "idp", "clients", *FLASK),
    "signing": ("idp", "clients", *FLASK),
    "idp": ("clients",),
    "clients": ("idp",),
}


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Absolute names of every module *source* (the text of *module*) imports."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
    return found


def violations(package: str, source: str, module: str, is_package: bool = False) -> list[str]:
    banned = FORBIDDEN[package]
    return sorted(f"{module} imports {name}" for name in imported_modules(source, module, is_package)
                  if name.split(".")[0] in banned)


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_keeps_the_import_rules(package: str) -> None:
    found = []
    for path in _sources(package):
        module, is_package = _module_name(path)
        found += violations(package, path.read_text(encoding="utf-8"), module, is_package)
    assert not found, "imports against docs/architecture.md:\n" + "\n".join(found)


def test_the_packages_are_where_the_rules_look() -> None:
    for package in ("keystore", "signing", "idp"):
        assert len(_sources(package)) > 3, f"{package}/ has no sources: the rules above checked nothing"


@pytest.mark.parametrize(("package", "module", "source", "expected"), [
    ("signing", "signing.cms", "from flask import current_app", ["signing.cms imports flask"]),
    ("signing", "signing.cms", "def f():\n    import werkzeug.exceptions", ["signing.cms imports werkzeug.exceptions"]),
    ("keystore", "keystore.pfx", "from signing import der", ["keystore.pfx imports signing"]),
    ("signing", "signing.imzo.sign", "from ...idp import app", ["signing.imzo.sign imports idp"]),
    ("clients", "clients.sdk", "import idp.tokens", ["clients.sdk imports idp.tokens"]),
    ("signing", "signing.imzo.sign", "from .. import der\nfrom . import main", []),
    ("idp", "idp.keys", "from keystore import pfx\nfrom signing import cms", []),
])
def test_the_check_finds_what_it_should(package: str, module: str, source: str, expected: list[str]) -> None:
    assert violations(package, source, module) == expected
