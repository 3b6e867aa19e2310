"""What a page shows in its code viewer is what a reader copies: public names only."""

from __future__ import annotations

import ast

import pytest

from tests.app.apptest import APP, PAGES


def private_names(source: str) -> list[str]:
    """`x._name` attributes and `from m import _name` imports (dunders are Python's, not private)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = [node.attr] if isinstance(node, ast.Attribute) else []
        if isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
        found += [name for name in names if name.startswith("_") and not name.startswith("__")]
    return found


@pytest.mark.parametrize("page", PAGES)
def test_a_page_references_no_private_name_of_another_module(page: str) -> None:
    assert private_names((APP.parent / page).read_text()) == []


def test_the_check_finds_a_private_method_and_a_private_import() -> None:
    source = "from m import _helper\nshow(EventNormalizer._confirm, Turn.__init__)"

    assert private_names(source) == ["_helper", "_confirm"]
