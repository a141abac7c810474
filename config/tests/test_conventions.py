"""The conventions every app follows, checked over the whole code base so they stay one way."""

import ast
import importlib
from pathlib import Path

import pytest
from django.apps import apps

from config.errors import ApiError

ROOT = Path(__file__).resolve().parents[2]


def project_sources():
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in {".venv", "bench"} or "migrations" in parts:
            continue
        yield path


def all_error_classes():
    for config in apps.get_app_configs():
        if (ROOT / config.name / "errors.py").exists():
            importlib.import_module(f"{config.name}.errors")
    seen, todo = [], [ApiError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith(
                ("config.", *[c.name + "." for c in apps.get_app_configs()])
            ):
                seen.append(sub)
            todo.append(sub)
    return seen


def test_every_error_code_is_declared_once_as_a_class_in_an_errors_module():
    classes = all_error_classes()
    codes = [cls.code for cls in classes if "tests" not in cls.__module__]
    assert "not_found" in codes and "insufficient_balance" in codes
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)
    for cls in classes:
        assert cls.__module__.endswith(".errors"), f"{cls.__name__} lives in {cls.__module__}"


def test_errors_are_never_built_inline_from_a_status_and_a_code():
    with pytest.raises(TypeError):
        ApiError(409, "conflict", "the old way")
    offenders = []
    for path in project_sources():
        if path == Path(__file__):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "ApiError"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, int)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "declare the code in an errors.py: " + ", ".join(offenders)


def test_role_permissions_and_not_found_helpers_are_written_once():
    duplicated = []
    for path in project_sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            name = getattr(node, "name", None)
            if isinstance(node, ast.ClassDef) and name in {"IsAdmin", "IsClient", "IsConsultant"}:
                if path.relative_to(ROOT).as_posix() != "accounts/permissions.py":
                    duplicated.append(f"{path.relative_to(ROOT)}: class {name}")
            if isinstance(node, ast.FunctionDef) and name in {"not_found", "invalid_state"}:
                duplicated.append(f"{path.relative_to(ROOT)}: def {name}")
    assert not duplicated, duplicated
