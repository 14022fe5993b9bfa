"""The OpenAPI 3.1 document of a sub-application, built from its route declarations.

Everything comes from `wxmember.core.endpoints`: the paths and methods, the path ids, the query
parameters (from the query model), the request body (from the body model), the success status
and its body where the route declares `response=`, and the refusals the route can give: its
declared `errors=` codes plus those every route of its kind gives (a body that is not JSON, an
odd path id, a missing session, a role that may not call it). Schemas are pydantic's JSON
Schema (2020-12, which OpenAPI 3.1 speaks), their `$defs` moved to `components/schemas`.

A route that can succeed in more than one way declares the others with `also=` (`Also`: the
replay of a retry, a 304 revalidation). A create (`POST` answering 201) links its answer's `id`
to the operations on the record it made (`links`), so a client, or a stateful test, can follow
from one to the other.

Who may call a route is the channel's to say (member sessions, staff roles), so the channel
passes an `access` function. The document is built on first use and then served as it is
(`serve_document`): building it costs a quarter of a second of CPU, which a worker process or a
test that is never asked for it should not pay at start.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from wxmember.core.endpoints import Endpoint
from wxmember.core.errors import DomainError
from wxmember.core.inputs import MAX_ID

Json = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_SCHEMA = "Error"

_PATH_PARAMETER = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Binary:
    """A success body that is not JSON (a picture): `response=Binary("image/png")`."""

    media_type: str


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document (this one): `response=OpenApiDocument` on the route serving it."""

    model_config = ConfigDict(extra="allow", title="OpenAPI document")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


@dataclass(frozen=True)
class Also:
    """Another success answer of a route, besides its declared status: `also=(REPLAYED,)`.

    With `body`, it carries the route's success body; `headers` are the response headers it
    sets, as (name, description)."""

    status: int
    description: str
    body: bool = True
    headers: tuple[tuple[str, str], ...] = ()


# A retry of a create with the same key (Idempotency-Key, order or refund number).
REPLAYED = Also(200, "A retry of an earlier request: its first answer again, nothing done twice.")
REPLAYED_MARKED = Also(
    200,
    REPLAYED.description,
    headers=(("Idempotent-Replayed", "`true`: this answer is the replay of an earlier one."),),
)
# A conditional GET whose If-None-Match names the current ETag.
NOT_MODIFIED = Also(304, "Not modified since the ETag given in If-None-Match; no body.", body=False)


@dataclass(frozen=True)
class Access:
    """Who may call a route: anyone (`public`), or a session, perhaps only some roles."""

    public: bool = False
    roles: tuple[str, ...] = ()
    # some authenticated callers are refused (403 role_not_allowed)
    restricted: bool = False


# --------------------------------------------------------------------------- error statuses

# Codes whose status is neither their named error's (errors.py) nor the convention
# (`*_not_found` 404, anything else 400). A code raised with two statuses lists both.
ERROR_STATUSES: dict[str, tuple[int, ...]] = {
    # 401
    "code_used": (401,),
    "invalid_code": (400, 401),
    "invalid_credentials": (401,),
    # 403
    "erase_not_allowed": (403,),
    "login_blocked": (403,),
    "reveal_not_allowed": (403,),
    "role_not_allowed": (403,),
    # 409
    "already_bound": (409,),
    "already_in_tier": (409,),
    "already_used": (409,),
    "below_threshold": (409,),
    "binding_mismatch": (409,),
    "birthday_locked": (409,),
    "card_exists": (409,),
    "checkin_disabled": (409,),
    "ended": (409,),
    "expired": (409,),
    "invalid_state": (409,),
    "limit_reached": (409,),
    "makeup_before_card": (409,),
    "makeup_limit_reached": (409,),
    "makeup_other_month": (409,),
    "makeup_today": (409,),
    "member_mismatch": (409,),
    "not_claimable": (409,),
    "not_on_sale": (409,),
    "not_started": (409,),
    "not_used": (409,),
    "not_virtual": (409,),
    "order_mismatch": (409,),
    "order_no_reused": (409,),
    "phone_taken": (409,),
    "referral_void": (409,),
    "refund_exceeds_purchase": (409,),
    "refund_no_reused": (409,),
    "self_lockout": (409,),
    "self_referral": (409,),
    "stock_below_claimed": (409,),
    "stock_from_codes": (409,),
    "stock_too_high": (409,),
    "stock_too_low": (409,),
    "template_expired": (409,),
    "template_in_use": (409,),
    "template_locked": (409,),
    "template_stopped": (409,),
    "tier_in_use": (409,),
    "username_taken": (409,),
    "wallet_card_logo_missing": (409,),
    "wallet_card_not_defined": (409,),
    "wallet_card_not_live": (409,),
    "wallet_card_sync_in_progress": (409,),
    "wechat_card_refused": (409,),
    # 413
    "logo_too_large": (413,),
    # 429
    "wechat_rate_limited": (429,),
    # 503
    "card_number_unavailable": (503,),
    "wechat_unavailable": (503,),
}


def _named_statuses() -> dict[str, int]:
    found: dict[str, int] = {}
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        kind = pending.pop()
        found.setdefault(kind.default_code, kind.status)
        pending.extend(kind.__subclasses__())
    return found


def error_statuses(code: str) -> tuple[int, ...]:
    """The HTTP statuses a refusal with this code is answered with."""
    if code in ERROR_STATUSES:
        return ERROR_STATUSES[code]
    named = _named_statuses()
    if code in named:
        return (named[code],)
    return (404,) if code.endswith("_not_found") else (400,)


# The refusals of the web plumbing (wxmember.core.inputs, web, httplimits), by status.
BODY_ERRORS: Mapping[int, tuple[str, ...]] = {
    400: ("not_json", "invalid_json", "body_too_complex", "validation_failed"),
    408: ("request_timeout",),
    413: ("body_too_large",),
}
PATH_ID_ERRORS: Mapping[int, tuple[str, ...]] = {404: ("not_found",)}
SESSION_ERRORS: Mapping[int, tuple[str, ...]] = {
    401: ("missing_token", "invalid_token", "token_expired")
}
ROLE_ERRORS: Mapping[int, tuple[str, ...]] = {403: ("role_not_allowed",)}
BUSY_ERRORS: Mapping[int, tuple[str, ...]] = {
    503: ("server_busy", "database_busy", "database_unavailable", "redis_unavailable")
}

_STATUS_TEXT = {
    400: "The request is not valid",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    408: "The body did not arrive in time",
    409: "Refused in the current state",
    413: "The body is too large",
    429: "Too many requests",
    503: "Busy or a dependency failed; try again",
}


def _field_codes(model: type[BaseModel]) -> list[str]:
    """`invalid_<field>` (or the field's declared `error_code`) for each field of a model."""
    codes = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra
        declared = extra.get("error_code") if isinstance(extra, dict) else None
        codes.append(declared if isinstance(declared, str) else f"invalid_{name}")
    return codes


def refusals(endpoint: Endpoint, access: Access) -> dict[int, list[str]]:
    """Every status other than success the route can answer, with the codes of each."""
    by_status: dict[int, set[str]] = {}

    def add(groups: Mapping[int, tuple[str, ...]]) -> None:
        for status, codes in groups.items():
            by_status.setdefault(status, set()).update(codes)

    if endpoint.body is not None:
        add(BODY_ERRORS)
        add({400: tuple(_field_codes(endpoint.body))})
    if endpoint.query is not None:
        add({400: tuple(_field_codes(endpoint.query))})
    if any(name.endswith("_id") for name in endpoint.path_parameters):
        add(PATH_ID_ERRORS)
    if not access.public:
        add(SESSION_ERRORS)
    if access.restricted:
        add(ROLE_ERRORS)
    for code in endpoint.errors:
        add({status: (code,) for status in error_statuses(code)})
    add(BUSY_ERRORS)
    return {status: sorted(by_status[status]) for status in sorted(by_status)}


# --------------------------------------------------------------------------- schemas


class _Schemas:
    """Every model of a document, named once in `components/schemas`."""

    def __init__(self, endpoints: list[Endpoint]) -> None:
        wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
        for endpoint in endpoints:
            candidates: list[tuple[Any, JsonSchemaMode]] = [
                (endpoint.body, "validation"),
                (endpoint.query, "validation"),
                (endpoint.response, "serialization"),
            ]
            for model, mode in candidates:
                if _is_model(model) and (model, mode) not in wanted:
                    wanted.append((model, mode))
        refs, top = models_json_schema(
            wanted, ref_template=REF_TEMPLATE, schema_generator=GenerateJsonSchema
        )
        self.refs: dict[tuple[Any, str], Json] = {key: _standard(ref) for key, ref in refs.items()}
        self.components: Json = _standard(dict(top.get("$defs", {})))
        self.query_models = {model for model, mode in wanted if mode == "validation"} - {
            endpoint.body for endpoint in endpoints if endpoint.body is not None
        }

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> Json:
        return dict(self.refs[(model, mode)])

    def expanded(self, model: type[BaseModel]) -> Json:
        """The model's own schema (for query parameters), not a reference to it."""
        name = self.refs[(model, "validation")]["$ref"].rpartition("/")[2]
        return dict(self.components[name])

    def finish(self) -> Json:
        """The components, without the query models that became parameters."""
        used = json.dumps(
            {k: v for k, v in self.components.items() if not self._is_query_component(k)}
        )
        kept = {}
        for name, schema in self.components.items():
            if self._is_query_component(name) and f'"{REF_TEMPLATE.format(model=name)}"' not in (
                used
            ):
                continue
            kept[name] = schema
        kept[ERROR_SCHEMA] = ERROR_BODY
        return dict(sorted(kept.items()))

    def _is_query_component(self, name: str) -> bool:
        return any(
            self.refs.get((model, "validation"), {}).get("$ref", "").endswith("/" + name)
            for model in self.query_models
        )


# Bounds pydantic leaves under their own names when a validator runs before them.
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _standard(schema: Any) -> Any:
    """The schema with pydantic's leftover bound names written as JSON Schema's."""
    if isinstance(schema, dict):
        return {
            _BOUNDS.get(key, key) if isinstance(value, int | float) else key: _standard(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_standard(value) for value in schema]
    return schema


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


ERROR_BODY: Json = {
    "type": "object",
    "title": "Error",
    "description": "Every refusal: a stable code clients switch on, and a message for people.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable, snake_case."},
                "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": True},
                "request_id": {"type": "string"},
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}


# --------------------------------------------------------------------------- operations


def _path_parameter(name: str) -> Json:
    if name.endswith("_id"):
        schema: Json = {"type": "integer", "minimum": 1, "maximum": MAX_ID, "pattern": "^[0-9]+$"}
        description = "A record's id: ASCII digits, 1..2^31-1; anything else is 404 not_found."
    else:
        schema = {"type": "string", "minLength": 1}
        description = ""
    parameter: Json = {"name": name, "in": "path", "required": True, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def _query_parameters(schema: Json) -> list[Json]:
    required = set(schema.get("required", ()))
    parameters = []
    for name, field in schema.get("properties", {}).items():
        field = dict(field)
        field.pop("title", None)
        parameter: Json = {"name": name, "in": "query", "required": name in required}
        description = field.pop("description", None)
        if description:
            parameter["description"] = description
        parameter["schema"] = field
        parameters.append(parameter)
    return parameters


def _success(endpoint: Endpoint, schemas: _Schemas) -> Json:
    if endpoint.status == 204:
        return {"description": "Done; no body."}
    response = endpoint.response
    if isinstance(response, Binary):
        content: Json = {response.media_type: {"schema": {"type": "string"}}}
    elif _is_model(response):
        content = {"application/json": {"schema": schemas.ref(response, "serialization")}}
    else:
        content = {"application/json": {"schema": {"type": "object"}}}
    described = "Success." if response is not None else "Success (body not described yet)."
    return {"description": described, "content": content}


def _also(also: Also, success: Json) -> Json:
    found: Json = {"description": also.description}
    if also.headers:
        found["headers"] = {
            name: {"description": text, "required": True, "schema": {"type": "string"}}
            for name, text in also.headers
        }
    if also.body and "content" in success:
        found["content"] = success["content"]
    return found


def _refusal(status: int, codes: list[str]) -> Json:
    return {
        "description": f"{_STATUS_TEXT.get(status, 'Refused')}: {', '.join(codes)}.",
        "x-error-codes": codes,
        "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="Error")}}},
    }


def operation(endpoint: Endpoint, access: Access, schemas: _Schemas, tag: str) -> Json:
    """The OpenAPI operation object of one route."""
    view_doc = (endpoint.view.__doc__ or "").strip()
    found: Json = {
        "operationId": endpoint.view.__name__,
        "summary": endpoint.summary,
    }
    rest = view_doc.partition("\n")[2].strip()
    if rest:
        found["description"] = rest
    found["tags"] = [tag]
    parameters = [_path_parameter(name) for name in _PATH_PARAMETER.findall(endpoint.path)]
    if endpoint.query is not None:
        parameters += _query_parameters(schemas.expanded(endpoint.query))
    for header in endpoint.headers:
        parameters.append(
            {
                "name": header.name,
                "in": "header",
                "required": header.required,
                "description": header.description,
                "schema": header.schema(),
            }
        )
    if parameters:
        found["parameters"] = parameters
    if endpoint.body is not None:
        found["requestBody"] = {
            "required": not endpoint.body_optional,
            "content": {"application/json": {"schema": schemas.ref(endpoint.body, "validation")}},
        }
    success = _success(endpoint, schemas)
    responses: Json = {str(endpoint.status): success}
    for also in endpoint.also:
        responses[str(also.status)] = _also(also, success)
    for status, codes in refusals(endpoint, access).items():
        responses[str(status)] = _refusal(status, codes)
    found["responses"] = responses
    if access.public:
        found["security"] = []
    elif access.roles:
        found["x-roles"] = list(access.roles)
    return found


def _link_creates(endpoints: list[Endpoint], paths: Json) -> None:
    """A create's 201 links its `id` to every operation on `<its path>/{<name>_id>...`."""
    for create in endpoints:
        if create.method != "POST" or create.status != 201:
            continue
        links: Json = {}
        for target in endpoints:
            rest = target.path.removeprefix(create.path + "/")
            if rest == target.path:
                continue
            names = _PATH_PARAMETER.findall(rest)
            if len(names) != 1 or not rest.startswith("{" + names[0] + "}"):
                continue
            if not names[0].endswith("_id"):
                continue
            links[target.view.__name__] = {
                "operationId": target.view.__name__,
                "parameters": {names[0]: "$response.body#/id"},
            }
        if links:
            paths[create.path][create.method.lower()]["responses"]["201"]["links"] = links


def build_document(
    endpoints: list[Endpoint],
    *,
    title: str,
    version: str,
    server: str,
    description: str,
    access: Callable[[Endpoint], Access],
    tag: Callable[[Endpoint], str],
) -> Json:
    """The OpenAPI 3.1 document of one sub-application's declared routes."""
    schemas = _Schemas(endpoints)
    paths: Json = {}
    for endpoint in endpoints:
        item = paths.setdefault(endpoint.path, {})
        found = operation(endpoint, access(endpoint), schemas, tag(endpoint))
        item[endpoint.method.lower()] = found
    _link_creates(endpoints, paths)
    undescribed = sorted(
        f"{endpoint.method} {endpoint.path}"
        for endpoint in endpoints
        if endpoint.response is None and endpoint.status != 204
    )
    if undescribed:
        description += (
            "\n\nThe success bodies of these routes are not described yet (shown as an "
            "object): " + ", ".join(f"`{route}`" for route in undescribed) + "."
        )
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "servers": [{"url": server}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas.finish(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def render(document: Json) -> bytes:
    """The document as the files and the service give it: indented, a newline at the end."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


class DocumentOnce:
    """A sub-application's rendered document, built by `build` the first time it is asked for."""

    def __init__(self, build: Callable[[], Json]) -> None:
        self._build = build
        self._body: bytes | None = None

    def body(self) -> bytes:
        if self._body is None:
            self._body = render(self._build())
        return self._body


OPENAPI_JSON = web.AppKey("openapi_json", DocumentOnce)


def attach(app: web.Application, build: Callable[[], Json]) -> None:
    """Keep the document's maker on the sub-application, for `serve_document`."""
    app[OPENAPI_JSON] = DocumentOnce(build)


def serve_document(request: web.Request) -> web.Response:
    """The sub-application's document; cacheable."""
    body = request.app[OPENAPI_JSON].body()
    return web.Response(
        body=body,
        content_type="application/json",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )
