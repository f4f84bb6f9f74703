"""Every annotation in the libraries names something that exists.

With `from __future__ import annotations` an annotation is a string that Python never checks, so
a missing import hides until a tool resolves it (typing.get_type_hints, as dataclasses,
documentation generators and validators do) and fails with NameError. signing/der.py had one.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

PACKAGES = ("keystore", "signing", "idp")


def _modules() -> Iterator[str]:
    for name in PACKAGES:
        package = importlib.import_module(name)
        yield name
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            if ".migrations" not in info.name:  # Alembic scripts run only inside Alembic
                yield info.name


def _annotated(module: ModuleType) -> Iterator[tuple[str, object]]:
    """(qualified name, object) of the module itself and each function, class and method it defines."""
    yield module.__name__, module
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj
        elif inspect.isclass(obj):
            yield f"{module.__name__}.{name}", obj
            for attr, member in vars(obj).items():
                func = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
                if inspect.isfunction(func):
                    yield f"{module.__name__}.{name}.{attr}", func


def _type_checking_names(module: ModuleType) -> dict[str, object]:
    """The names a module imports under `if TYPE_CHECKING:` (kept out of run time to start faster):
    imported, so they count; the import statements themselves are run here."""
    names: dict[str, object] = {}
    for node in ast.walk(ast.parse(Path(module.__file__ or "").read_text())):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            block = ast.Module(body=[n for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom))],
                               type_ignores=[])
            exec(compile(block, module.__name__, "exec"), {"__name__": module.__name__,  # noqa: S102
                                                          "__package__": module.__package__}, names)
    return names


@pytest.mark.parametrize("module_name", sorted(_modules()))
def test_every_annotation_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    local = _type_checking_names(module)
    broken = []
    for qualname, obj in _annotated(module):
        try:
            typing.get_type_hints(obj, localns=local or None)
        except NameError as exc:
            broken.append(f"{qualname}: {exc}")
        except AttributeError:
            pass  # a name only the type stubs have (hashlib._Hash): imported, just not at run time
    assert not broken, "annotations naming something never imported:\n" + "\n".join(broken)
