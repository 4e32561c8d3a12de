from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from streaming_umap.web.openapi import normalise_text, openapi_document


def _descriptions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield value
            else:
                yield from _descriptions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _descriptions(item)


def test_both_msgspec_dedent_styles_give_the_same_text() -> None:
    kept = {"description": "First line\n    second line\n    third line"}  # msgspec 0.22
    stripped = {"description": "First line\nsecond line\nthird line"}  # msgspec 0.23
    assert normalise_text(kept) == normalise_text(stripped) == stripped


def test_normalise_reaches_nested_schemas_and_leaves_other_values_alone() -> None:
    doc = {"components": {"schemas": {"A": {"description": "  x\n   y", "properties": {
        "description": {"type": "string", "default": "  keep  "}}}}}, "tags": [{"description": "\n z"}]}
    out = normalise_text(doc)
    assert out["components"]["schemas"]["A"]["description"] == "x\ny"
    assert out["components"]["schemas"]["A"]["properties"]["description"]["default"] == "  keep  "
    assert out["tags"][0]["description"] == "z"


def test_every_description_of_the_served_document_is_normalised() -> None:
    found = list(_descriptions(openapi_document()))
    assert len(found) > 20
    assert [d for d in found if d != inspect.cleandoc(d)] == []
