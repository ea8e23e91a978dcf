"""The public face: __all__, the generated API list, typing marker, docstrings."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import consistent

ROOT = Path(__file__).resolve().parent.parent


def _load_make_api():
    spec = importlib.util.spec_from_file_location("make_api", ROOT / "docs" / "make_api.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_all_is_importable_and_unique():
    assert len(consistent.__all__) == len(set(consistent.__all__))
    for name in consistent.__all__:
        assert hasattr(consistent, name), name


def test_api_docs_agree_with_all():
    make_api = _load_make_api()
    committed = (ROOT / "docs" / "api.md").read_text()
    assert committed == make_api.render(), "run: python docs/make_api.py"
    for name in consistent.__all__:
        assert f"`{name}" in committed


def test_every_public_class_and_function_has_a_docstring():
    for name in consistent.__all__:
        obj = getattr(consistent, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), name


def test_package_is_typed():
    assert (ROOT / "consistent" / "py.typed").exists()
