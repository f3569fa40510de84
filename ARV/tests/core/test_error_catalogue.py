"""The error catalogue cannot drift: `ARV/docs/errors.md` lists exactly the codes the error
classes declare, with their status and meaning, and every error class lives in
`app.core.exceptions`, where the catalogue is read from.

When a code is added or changed, the failure message holds the table to paste.
"""

import importlib
import pkgutil
import re
from pathlib import Path

import app
from app.core import exceptions
from app.core.exceptions import AppError, catalogue

ERRORS_DOC = Path(__file__).parents[2] / "docs" / "errors.md"
ROW = re.compile(r"^\| `[^`]+` \|")
CODE = re.compile(r"^[a-z]+(_[a-z]+)*$")


def table_rows() -> list[str]:
    return [
        f"| `{error.code}` | {error.status.value} | {error.meaning()} |" for error in catalogue()
    ]


def documented_rows() -> list[str]:
    return [line for line in ERRORS_DOC.read_text().splitlines() if ROW.match(line)]


def all_error_classes() -> set[type[AppError]]:
    for module in pkgutil.walk_packages(app.__path__, "app."):
        importlib.import_module(module.name)
    found: set[type[AppError]] = set()
    pending: list[type[AppError]] = [AppError]
    while pending:
        error = pending.pop()
        found.add(error)
        pending += error.__subclasses__()
    return found


def test_the_documented_table_is_the_declared_catalogue() -> None:
    expected, documented = table_rows(), documented_rows()
    missing = [row for row in expected if row not in documented]
    stale = [row for row in documented if row not in expected]
    table = "\n".join(expected)
    assert (missing, stale) == ([], []), f"update ARV/docs/errors.md with:\n{table}"
    assert documented == expected, f"keep the catalogue's order in ARV/docs/errors.md:\n{table}"


def test_every_error_class_is_in_the_one_module() -> None:
    outside = {
        f"{error.__module__}.{error.__qualname__}"
        for error in all_error_classes()
        if error.__module__ != exceptions.__name__
    }
    assert outside == set()


def test_each_code_is_declared_once_and_has_a_meaning() -> None:
    declared = catalogue()
    codes = [error.code for error in declared]
    assert len(declared) > 40
    assert len(codes) == len(set(codes)), "two classes declare the same code"
    assert [code for code in codes if not CODE.match(code)] == []
    assert [error.__name__ for error in declared if "__doc__" not in vars(error)] == []
    assert [error.code for error in declared if "|" in error.meaning()] == []


def test_status_follows_from_the_generic_class() -> None:
    generic = {error for error in catalogue() if error.__base__ is AppError}
    for error in catalogue():
        ancestor = next(base for base in error.__mro__ if base in generic or base is AppError)
        assert error.status == ancestor.status, error.__name__
