"""`FastRoute`: an `APIRoute` that validates a request in one pydantic call.

FastAPI validates each path and query parameter separately and walks its dependency tree
on every request, which costs more than the whole bare request on the hot endpoints. A
`FastRoute` compiles, once, one pydantic model from the very `FieldInfo`s FastAPI built
for the endpoint (path and query parameters, also those of its sub-dependencies) and, for
a JSON body, the body's own model. A request whose parameters and body validate is
answered by calling the dependencies and the endpoint directly; anything else (a
validation error, a body that is not `application/json`, a dependency shape it does not
know) goes through FastAPI's own handler, so every 4xx answer and the OpenAPI document are
FastAPI's, unchanged. Routes whose dependencies it cannot compile simply use FastAPI's
handler.

Supported dependency shapes: async functions whose parameters are path or query
parameters, the `Request`, or further such dependencies. The endpoint itself must be an
async function.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from inspect import iscoroutinefunction
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Request, Response
from fastapi._compat import ModelField, field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class _Call:
    """One dependency (or the endpoint): which validated fields and sub-calls it takes."""

    call: Callable[..., Coroutine[Any, Any, Any]]
    fields: tuple[tuple[str, str], ...]  # (argument name, key in the params model)
    subcalls: tuple[tuple[str, _Call], ...]  # (argument name, dependency)
    request_param: str | None
    body_param: str | None

    async def __call__(self, request: Request, params: BaseModel, body: Any) -> Any:
        kwargs: dict[str, Any] = {name: getattr(params, key) for name, key in self.fields}
        for name, sub in self.subcalls:
            kwargs[name] = await sub(request, params, body)
        if self.request_param is not None:
            kwargs[self.request_param] = request
        if self.body_param is not None:
            kwargs[self.body_param] = body
        return await self.call(**kwargs)


@dataclass(frozen=True)
class _Plan:
    params: type[BaseModel]
    sequences: frozenset[str]  # query aliases that take every value (lists)
    body: type[BaseModel] | None
    root: _Call

    def raw_params(self, request: Request) -> dict[str, Any]:
        """Path and query values by alias, as FastAPI reads them: the last value of a
        repeated scalar, all values of a list, an empty list as absent."""
        raw: dict[str, Any] = {}
        query = request.scope["query_string"]
        if query:
            for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if key in self.sequences:
                    raw.setdefault(key, []).append(value)
                else:
                    raw[key] = value
        raw.update(request.path_params)
        return raw

    async def body_value(self, request: Request) -> tuple[bool, Any]:
        """(decided, validated body); not decided when FastAPI should judge the body."""
        if self.body is None:
            return True, None
        if request.headers.get("content-type") != JSON_TYPE:
            return False, None
        try:  # JSON mode, as FastAPI validates a body (`true` is no integer there)
            return True, self.body.model_validate_json(await request.body())
        except ValidationError:  # also malformed JSON
            return False, None


class FastRoute(APIRoute):
    """An `APIRoute` with the one-call validation of the module docstring."""

    plan: _Plan | None = None

    def get_route_handler(self) -> Handler:
        slow = super().get_route_handler()
        self.plan = _compile(self.dependant, self.body_field, self._embed_body_fields)
        if self.plan is None:
            return slow

        async def handler(request: Request) -> Response:
            response = await self.answer(request)
            return await slow(request) if response is None else response

        return handler

    async def answer(self, request: Request) -> Response | None:
        """The endpoint's response to a request that validates in one call; None when
        FastAPI's own handler should judge it (invalid, not JSON, no compiled plan)."""
        plan = self.plan
        if plan is None:
            return None
        decided, body = await plan.body_value(request)
        if not decided:
            return None
        try:
            params = plan.params.model_validate(plan.raw_params(request))
        except ValidationError:
            return None
        response = await plan.root(request, params, body)
        if not isinstance(response, Response):
            raise TypeError(f"{self.path}: a FastRoute endpoint must return a Response")
        return response


def _compile(dependant: Dependant, body: ModelField | None, embedded: bool) -> _Plan | None:
    fields: dict[str, tuple[Any, FieldInfo]] = {}
    sequences: set[str] = set()
    body_model: type[BaseModel] | None = None
    if body is not None:
        annotation = body.field_info.annotation
        if embedded or not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        body_model = annotation
    root = _compile_call(dependant, fields, sequences, body)
    if root is None:
        return None
    params = create_model(  # type: ignore[call-overload]
        "FastParams", __config__=ConfigDict(extra="ignore"), **fields
    )
    return _Plan(params, frozenset(sequences), body_model, root)


def _compile_call(
    dependant: Dependant,
    fields: dict[str, tuple[Any, FieldInfo]],
    sequences: set[str],
    body: ModelField | None,
) -> _Call | None:
    unsupported = (
        dependant.header_params,
        dependant.cookie_params,
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    if any(unsupported) or dependant.call is None or not iscoroutinefunction(dependant.call):
        return None
    body_param = None
    for field in dependant.body_params:
        if body is None or field.name != body.name:
            return None
        body_param = field.name
    own: list[tuple[str, str]] = []
    for field in (*dependant.path_params, *dependant.query_params):
        if field.field_info.validation_alias is not None:
            return None
        key = f"f{len(fields)}"
        fields[key] = _model_field(field)
        own.append((field.name, key))
        if _is_sequence(field):
            sequences.add(field.alias)
    subcalls: list[tuple[str, _Call]] = []
    for sub in dependant.dependencies:
        compiled = _compile_call(sub, fields, sequences, body)
        if compiled is None or sub.name is None:
            return None
        subcalls.append((sub.name, compiled))
    return _Call(
        dependant.call, tuple(own), tuple(subcalls), dependant.request_param_name, body_param
    )


def _model_field(field: ModelField) -> tuple[Any, FieldInfo]:
    """(annotation with the parameter's constraints, default read by its alias): what
    FastAPI validates the parameter with, as a field of a plain pydantic model."""
    info = field.field_info
    annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    if info.default_factory is not None:
        return annotation, Field(default_factory=info.default_factory, alias=field.alias)
    return annotation, Field(default=info.default, alias=field.alias)


def _is_sequence(field: ModelField) -> bool:
    return bool(field_annotation_is_sequence(field.field_info.annotation))
