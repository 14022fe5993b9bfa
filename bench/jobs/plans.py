"""Query plans of the jobs' queries, as PostgreSQL runs them for the application.

The application's driver (asyncpg) prepares every statement, and PostgreSQL may switch a
prepared statement to a generic plan (one that ignores the parameter values) after five
executions. So each query is shown three ways, all with EXPLAIN (ANALYZE, BUFFERS):
- `custom`: planned for these parameter values, as the first executions are;
- `generic`: forced generic, what a switch would give;
- `after_warmup`: a prepared statement executed six times first, then explained: the plan the
  default `plan_cache_mode = auto` settles on.
The SQL is the statement Tortoise builds for the handler's query, with its parameters.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg

KINDS = ("custom", "generic", "after_warmup")

WARMUP_EXECUTIONS = 6


def statement(query: Any) -> tuple[str, list[Any]]:
    """The parameterised SQL and parameters of a Tortoise query (Tortoise initialised)."""
    query.sql()  # picks the connection and builds `query.query`
    sql, params = query.query.get_parameterized_sql()
    return sql, list(params)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, datetime | date):
        value = value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"


async def _plan(conn: asyncpg.Connection, sql: str, *args: Any) -> str:
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
    return "\n".join(row[0] for row in rows)


async def explain(conn: asyncpg.Connection, title: str, sql: str, params: list[Any]) -> dict:
    """The query's plans (see the module docstring) with their timings."""
    custom = await _plan(conn, sql, *params)
    execute = f"EXECUTE bench_plan({', '.join(_literal(p) for p in params)})"
    await conn.execute(f"PREPARE bench_plan AS {sql}")
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        generic = await _plan(conn, execute)
        await conn.execute("RESET plan_cache_mode")
        await conn.execute("DEALLOCATE bench_plan")
        await conn.execute(f"PREPARE bench_plan AS {sql}")
        for _ in range(WARMUP_EXECUTIONS):
            await conn.execute(execute)
        warm = await _plan(conn, execute)
    finally:
        await conn.execute("RESET plan_cache_mode")
        await conn.execute("DEALLOCATE bench_plan")
    plans = {"custom": custom, "generic": generic, "after_warmup": warm}
    return {
        "title": title,
        "sql": sql,
        "params": [_literal(p) for p in params],
        **plans,
        "access": {kind: access_path(text) for kind, text in plans.items()},
    }


def access_path(plan: str) -> str:
    """How a plan reads its tables, in short: the scans, rows thrown away, execution time."""
    scans, removed, took = [], 0, ""
    for raw in plan.splitlines():
        line = raw.strip().removeprefix("->").strip()
        if " Scan " in f" {line}" and "(" in line:
            scans.append(line.split("  (")[0])
        elif line.startswith("Rows Removed by Filter:"):
            removed += int(line.split(":")[1])
        elif line.startswith("Execution Time:"):
            took = line.split(":")[1].strip()
    return f"{'; '.join(scans)} — {removed:,} rows removed by filter — {took}"
