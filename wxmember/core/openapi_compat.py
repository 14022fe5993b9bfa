"""Breaking changes between two OpenAPI documents of the same API.

Within one `info.version` a client written against the older document must keep working
against the newer. `breaking(old, new)` lists what would stop it, one line each:

- an operation (path and method) removed;
- a success status removed (2xx, 3xx);
- a property removed from a success body, or its type changed other than narrowed
  (a field that could be a string now also null, say);
- a request property (body or query) removed, a new required one, one that became required,
  or its type changed other than widened; a request body that became required.

Added routes, statuses, optional request fields, response fields and error codes are
compatible. The comparison follows `$ref`s into `components/schemas` and into nested objects
and arrays; it does not judge `oneOf` branches, formats, bounds, patterns or enums.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

METHODS = ("get", "put", "post", "patch", "delete")


class _Doc:
    def __init__(self, document: Json) -> None:
        self.schemas: Json = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: Any, seen: frozenset[str] = frozenset()) -> Json:
        """The schema behind a `$ref` (or the schema itself)."""
        while isinstance(schema, dict) and "$ref" in schema:
            name = str(schema["$ref"]).rpartition("/")[2]
            if name in seen:
                return {}
            seen = seen | {name}
            schema = self.schemas.get(name, {})
        return schema if isinstance(schema, dict) else {}

    def branches(self, schema: Any) -> list[Json]:
        """A schema's alternatives (`anyOf`/`oneOf`), each resolved; itself when it has none."""
        schema = self.resolve(schema)
        alternatives = schema.get("anyOf") or schema.get("oneOf")
        if alternatives:
            return [branch for item in alternatives for branch in self.branches(item)]
        return [schema]

    def types(self, schema: Any) -> set[str]:
        """The JSON types a value may have; empty for "anything"."""
        found: set[str] = set()
        for branch in self.branches(schema):
            kind = branch.get("type")
            if kind is None and "properties" in branch:
                kind = "object"
            if kind is None and "const" in branch:
                kind = type_of(branch["const"])
            if kind is None:
                return set()  # unconstrained
            found |= set(kind) if isinstance(kind, list) else {kind}
        if "number" in found:
            found.add("integer")
        return found

    def part(self, schema: Any, kind: str) -> Json | None:
        """The branch of a schema that is an object (`kind="object"`) or an array."""
        for branch in self.branches(schema):
            if branch.get("type") == kind or (kind == "object" and "properties" in branch):
                return branch
        return None


def type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _compare(
    old_doc: _Doc,
    new_doc: _Doc,
    old: Any,
    new: Any,
    where: str,
    *,
    request: bool,
    found: list[str],
    depth: int = 0,
) -> None:
    """Append to `found` what breaks a client between two schemas of one value."""
    if depth > 12:
        return
    old_types, new_types = old_doc.types(old), new_doc.types(new)
    if request:
        # the server must still take every value it took
        if new_types and (not old_types or not old_types <= new_types):
            found.append(f"{where}: type {_shown(old_types)} became {_shown(new_types)}")
            return
    elif old_types and (not new_types or not new_types <= old_types):
        # the client must still understand every value it gets
        found.append(f"{where}: type {_shown(old_types)} became {_shown(new_types)}")
        return
    old_object, new_object = old_doc.part(old, "object"), new_doc.part(new, "object")
    if old_object is not None and new_object is not None:
        old_properties = old_object.get("properties", {})
        new_properties = new_object.get("properties", {})
        old_required = set(old_object.get("required", ()))
        new_required = set(new_object.get("required", ()))
        for name, schema in old_properties.items():
            if name not in new_properties:
                found.append(f"{where}.{name}: removed")
                continue
            if request and name in new_required and name not in old_required:
                found.append(f"{where}.{name}: became required")
            if not request and name in old_required and name not in new_required:
                found.append(f"{where}.{name}: may now be missing")
            _compare(
                old_doc,
                new_doc,
                schema,
                new_properties[name],
                f"{where}.{name}",
                request=request,
                found=found,
                depth=depth + 1,
            )
        if request:
            for name in sorted(new_required - set(old_properties)):
                found.append(f"{where}.{name}: new and required")
    old_array, new_array = old_doc.part(old, "array"), new_doc.part(new, "array")
    if old_array is not None and new_array is not None:
        _compare(
            old_doc,
            new_doc,
            old_array.get("items", {}),
            new_array.get("items", {}),
            f"{where}[]",
            request=request,
            found=found,
            depth=depth + 1,
        )


def _shown(types: set[str]) -> str:
    return "|".join(sorted(types)) or "any"


def _json_schema(holder: Json) -> Any:
    return holder.get("content", {}).get("application/json", {}).get("schema")


def _parameters(operation: Json, place: str) -> dict[str, Json]:
    return {p["name"]: p for p in operation.get("parameters", ()) if p.get("in") == place}


def breaking(old: Json, new: Json) -> list[str]:
    """Every change from `old` to `new` that can break a client of `old`, one line each."""
    old_doc, new_doc = _Doc(old), _Doc(new)
    found: list[str] = []
    for path, old_item in old.get("paths", {}).items():
        new_item = new.get("paths", {}).get(path, {})
        for method in METHODS:
            if method not in old_item:
                continue
            route = f"{method.upper()} {path}"
            if method not in new_item:
                found.append(f"{route}: removed")
                continue
            before, after = old_item[method], new_item[method]
            for status, response in before.get("responses", {}).items():
                if not status.startswith(("2", "3")):
                    continue
                if status not in after.get("responses", {}):
                    found.append(f"{route}: success status {status} removed")
                    continue
                old_schema = _json_schema(response)
                new_schema = _json_schema(after["responses"][status])
                if old_schema is not None:
                    _compare(
                        old_doc,
                        new_doc,
                        old_schema,
                        new_schema if new_schema is not None else {"not": {}},
                        f"{route} {status} body",
                        request=False,
                        found=found,
                    )
            for place in ("query", "path", "header"):
                old_parameters = _parameters(before, place)
                new_parameters = _parameters(after, place)
                for name, parameter in new_parameters.items():
                    if parameter.get("required") and not old_parameters.get(name, {}).get(
                        "required"
                    ):
                        found.append(f"{route}: {place} parameter {name} became required")
                for name, parameter in old_parameters.items():
                    if name not in new_parameters:
                        found.append(f"{route}: {place} parameter {name} removed")
                        continue
                    _compare(
                        old_doc,
                        new_doc,
                        parameter.get("schema", {}),
                        new_parameters[name].get("schema", {}),
                        f"{route} {place} {name}",
                        request=True,
                        found=found,
                    )
            old_body, new_body = before.get("requestBody"), after.get("requestBody")
            if new_body is not None and new_body.get("required"):
                if old_body is None or not old_body.get("required"):
                    found.append(f"{route}: request body became required")
            if old_body is not None and new_body is not None:
                _compare(
                    old_doc,
                    new_doc,
                    _json_schema(old_body),
                    _json_schema(new_body),
                    f"{route} body",
                    request=True,
                    found=found,
                )
    return found


def version_bumped(old: Json, new: Json) -> bool:
    return bool(old.get("info", {}).get("version") != new.get("info", {}).get("version"))
