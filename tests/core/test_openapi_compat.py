"""The breaking-change check: each rule catches its case, and additions pass."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wxmember import apidocs
from wxmember.core.openapi_compat import breaking

Json = dict[str, Any]


def _base() -> Json:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/items": {
                "get": {
                    "parameters": [
                        {
                            "name": "kind",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Page"}
                                }
                            }
                        },
                        "400": {"content": {"application/json": {"schema": {}}}},
                    },
                },
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}
                        },
                    },
                    "responses": {
                        "201": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Item"}
                                }
                            }
                        }
                    },
                },
            }
        },
        "components": {
            "schemas": {
                "Page": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                        "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    },
                    "required": ["items", "next_cursor"],
                },
                "Item": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string"},
                        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    },
                    "required": ["id", "title", "note"],
                },
                "NewItem": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string"},
                        "note": {"type": "string"},
                        "count": {"type": "integer"},
                    },
                    "required": ["title"],
                },
            }
        },
    }


def _changed(change: Callable[[Json], object]) -> Json:
    document = copy.deepcopy(_base())
    change(document)
    return document


def _schemas(document: Json) -> Json:
    return document["components"]["schemas"]


BREAKING: dict[str, tuple[Callable[[Json], object], str]] = {
    "an operation removed": (lambda d: d["paths"]["/items"].pop("post"), "POST /items: removed"),
    "a path removed": (lambda d: d["paths"].pop("/items"), "GET /items: removed"),
    "a success status removed": (
        lambda d: d["paths"]["/items"]["post"]["responses"].update(
            {"200": d["paths"]["/items"]["post"]["responses"].pop("201")}
        ),
        "POST /items: success status 201 removed",
    ),
    "a response property removed": (
        lambda d: _schemas(d)["Item"]["properties"].pop("note"),
        "POST /items 201 body.note: removed",
    ),
    "a nested response property removed (through an array)": (
        lambda d: _schemas(d)["Item"]["properties"].pop("title"),
        "GET /items 200 body.items[].title: removed",
    ),
    "a response type changed": (
        lambda d: _schemas(d)["Item"]["properties"].update({"id": {"type": "string"}}),
        "POST /items 201 body.id: type integer became string",
    ),
    "a response property that may now be null": (
        lambda d: _schemas(d)["Item"]["properties"].update(
            {"title": {"anyOf": [{"type": "string"}, {"type": "null"}]}}
        ),
        "POST /items 201 body.title: type string became null|string",
    ),
    "a response property no longer always there": (
        lambda d: _schemas(d)["Item"]["required"].remove("title"),
        "POST /items 201 body.title: may now be missing",
    ),
    "a request property removed": (
        lambda d: _schemas(d)["NewItem"]["properties"].pop("note"),
        "POST /items body.note: removed",
    ),
    "a request property made required": (
        lambda d: _schemas(d)["NewItem"]["required"].append("note"),
        "POST /items body.note: became required",
    ),
    "a new required request property": (
        lambda d: (
            _schemas(d)["NewItem"]["properties"].update({"store": {"type": "string"}}),
            _schemas(d)["NewItem"]["required"].append("store"),
        ),
        "POST /items body.store: new and required",
    ),
    "a request type narrowed": (
        lambda d: _schemas(d)["NewItem"]["properties"].update(
            {"count": {"type": "integer", "minimum": 0}, "title": {"type": "integer"}}
        ),
        "POST /items body.title: type string became integer",
    ),
    "a query parameter made required": (
        lambda d: d["paths"]["/items"]["get"]["parameters"][0].update({"required": True}),
        "GET /items: query parameter kind became required",
    ),
    "a query parameter removed": (
        lambda d: d["paths"]["/items"]["get"].pop("parameters"),
        "GET /items: query parameter kind removed",
    ),
}


@pytest.mark.parametrize("case", BREAKING)
def test_each_rule_catches_its_case(case: str) -> None:
    change, expected = BREAKING[case]
    assert expected in breaking(_base(), _changed(change))


def test_additions_and_widenings_are_compatible() -> None:
    def add(d: Json) -> None:
        d["paths"]["/items/{item_id}"] = {"get": {"responses": {"200": {}}}}
        d["paths"]["/items"]["put"] = {"responses": {"200": {}}}
        d["paths"]["/items"]["post"]["responses"]["200"] = {"description": "a replay"}
        d["paths"]["/items"]["get"]["responses"]["409"] = {"description": "a new refusal"}
        d["paths"]["/items"]["get"]["parameters"].append(
            {"name": "q", "in": "query", "required": False, "schema": {"type": "string"}}
        )
        _schemas(d)["Item"]["properties"]["colour"] = {"type": "string"}
        _schemas(d)["Item"]["required"].append("colour")
        _schemas(d)["Item"]["properties"]["note"] = {"type": "string"}  # narrowed: never null
        _schemas(d)["NewItem"]["properties"]["store"] = {"type": "string"}
        _schemas(d)["NewItem"]["properties"]["count"] = {
            "anyOf": [{"type": "integer"}, {"type": "null"}]  # widened
        }

    assert breaking(_base(), _changed(add)) == []


def test_the_published_documents_are_compatible_with_themselves() -> None:
    for body in apidocs.documents().values():
        document = json.loads(body)
        assert breaking(document, document) == []


def test_the_check_fails_on_a_breaking_change_unless_the_version_is_bumped(
    tmp_path: Path,
) -> None:
    documents = {name: json.loads(body) for name, body in apidocs.documents().items()}
    removed = copy.deepcopy(documents["miniapp.json"])
    removed["paths"]["/card"]["get"]["responses"]["200"]["content"]["application/json"] = {
        "schema": {"type": "object", "properties": {"gone": {"type": "string"}}}
    }
    (tmp_path / "miniapp.json").write_text(json.dumps(removed))
    (tmp_path / "admin.json").write_text(json.dumps(documents["admin.json"]))
    problems = apidocs.breaking_changes(tmp_path)
    assert problems == ["miniapp.json: GET /card 200 body.gone: removed"]

    older = copy.deepcopy(removed)
    older["info"]["version"] = "0"
    (tmp_path / "miniapp.json").write_text(json.dumps(older))
    assert apidocs.breaking_changes(tmp_path) == []


def test_no_breaking_change_against_the_committed_documents() -> None:
    """The code against the checked-in files and against the last commit's (where git is)."""
    out = apidocs.DEFAULT_OUT
    root = Path(__file__).resolve().parents[2]
    assert apidocs.breaking_changes(root / out) == []
    assert apidocs.breaking_changes(apidocs.committed("HEAD", out)) == []
