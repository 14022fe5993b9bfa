"""Hot reads by a fixed SQL text, without the ORM's per-query building.

Building a query through the ORM (filters resolved, SQL rendered, parameters collected) costs
more Python time than the read itself on the hottest paths, such as the member behind every
request. A `RowById` renders its statement once per dialect and turns the row into the same
model instances the ORM would, its relation included, so callers cannot tell the difference.
The models stay the schema: the columns come from their metadata.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

ModelT = TypeVar("ModelT", bound=Model)


class RowById(Generic[ModelT]):
    """`SELECT` one row by primary key, with one foreign-key relation joined (or None)."""

    def __init__(self, model: type[ModelT], relation: str) -> None:
        self.model = model
        self.relation = relation
        self._statements: dict[str, tuple[str, list[str], list[str]]] = {}

    def _statement(self, dialect: str) -> tuple[str, list[str], list[str]]:
        found = self._statements.get(dialect)
        if found is None:
            meta = self.model._meta
            field = meta.fields_map[self.relation]
            related: type[Model] = field.related_model  # type: ignore[attr-defined]
            source = field.source_field or f"{self.relation}_id"
            own = sorted(meta.db_fields)
            theirs = sorted(related._meta.db_fields)
            columns = [f'a."{name}"' for name in own] + [f'b."{name}"' for name in theirs]
            parameter = "$1" if dialect == "postgres" else "?"
            sql = (
                f"SELECT {', '.join(columns)} "
                f'FROM "{meta.db_table}" a '
                f'LEFT JOIN "{related._meta.db_table}" b ON b."{related._meta.db_pk_column}" '
                f'= a."{source}" '
                f'WHERE a."{meta.db_pk_column}" = {parameter}'
            )
            found = self._statements[dialect] = (sql, own, theirs)
        return found

    async def get(self, pk: int, using_db: BaseDBAsyncClient | None = None) -> ModelT | None:
        conn = using_db or self.model._meta.db
        sql, own, theirs = self._statement(conn.capabilities.dialect)
        _, rows = await conn.execute_query(sql, [pk])
        if not rows:
            return None
        values = list(rows[0])
        instance = self.model._init_from_db(**dict(zip(own, values, strict=False)))
        rest: list[Any] = values[len(own) :]
        related: Model | None = None
        if rest[theirs.index(self._related_pk())] is not None:
            related_model = self.model._meta.fields_map[self.relation].related_model  # type: ignore[attr-defined]
            related = related_model._init_from_db(**dict(zip(theirs, rest, strict=True)))
        object.__setattr__(instance, f"_{self.relation}", related)
        return instance

    def _related_pk(self) -> str:
        field = self.model._meta.fields_map[self.relation]
        return str(field.related_model._meta.db_pk_column)  # type: ignore[attr-defined]
