"""Which runs a query can see: the run_ids its filters name, so the engine opens only those runs.

A query names its runs when every reference to a table of the `execution`
dataset sits in a SELECT whose WHERE has a conjunct on that table's run_id
of one of these forms (after its parameters are bound):

    run_id = 'x'            run_id = @run_id
    run_id IN ('x', 'y')    run_id IN UNNEST(@run_ids)

and ORs / ANDs of them (`ARRAY_LENGTH(@run_ids) = 0 OR run_id IN UNNEST(@run_ids)`
names the runs when @run_ids is not empty). Anything else (no filter, a filter
through a subquery or a join, an expression around run_id) may see any run: the
answer is None and the whole lake is opened. The analysis only ever narrows
what is read, never what is answered: the rows such a query can see are those
runs' rows, whichever other runs are committed.
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlglot import exp
from sqlglot.optimizer.simplify import simplify

from lake.catalog.ddl import DATASET
from lake.catalog.translate import Query, bind, parse_bigquery, resolve_params

RUN_ID = "run_id"


def runs_named(query: Query, params: Mapping[str, Any] | None = None) -> frozenset[str] | None:
    """The run_ids every lake table reference of `query` is limited to, or None when it may read any run.

    An empty set: the query reads no lake table (SELECT 1), or its filters match no run.
    """
    bound = resolve_params(query, params)
    named: set[str] = set()
    for stmt in parse_bigquery(query.text, query.name):
        stmt = simplify(bind(stmt, bound, query.name))
        for table in stmt.find_all(exp.Table):
            if table.db.lower() != DATASET:
                continue
            runs = _table_runs(table)
            if runs is None:
                return None
            named |= runs
    return frozenset(named)


def _table_runs(table: exp.Table) -> set[str] | None:
    """The runs a filter of the SELECT that reads `table` limits it to (None: not limited)."""
    select = table.parent_select
    if select is None or not any(source is table for source in _sources(select)):
        return None  # inside a subquery of its FROM, or not a source at all: not limited here
    where = select.args.get("where")
    if where is None:
        return None
    return _limit(where.this, table.alias_or_name, sole=len(_sources(select)) == 1)


def _sources(select: exp.Select) -> list[exp.Expression]:
    from_ = select.args.get("from_") or select.args.get("from")
    sources = [from_.this] if from_ is not None else []
    return sources + [j.this for j in select.args.get("joins") or []]


def _limit(node: exp.Expression, alias: str, sole: bool) -> set[str] | None:
    """The run_ids `node` (a boolean expression) admits for the table named `alias`, or None."""
    node = node.unnest()
    if isinstance(node, exp.And):
        parts = [r for c in node.flatten() if (r := _limit(c, alias, sole)) is not None]
        return set.intersection(*parts) if parts else None
    if isinstance(node, exp.Or):
        parts = [_limit(c, alias, sole) for c in node.flatten()]
        return None if any(p is None for p in parts) else set().union(*parts)
    if isinstance(node, exp.Boolean) and not node.this:  # FALSE: an empty IN list after binding
        return set()
    if isinstance(node, exp.EQ):
        for column, value in ((node.this, node.expression), (node.expression, node.this)):
            if _is_run_id(column, alias, sole) and (text := _string(value)) is not None:
                return {text}
    if isinstance(node, exp.In) and _is_run_id(node.this, alias, sole) and not node.args.get("query"):
        values = [_string(v) for v in node.expressions]
        if node.expressions and all(v is not None for v in values):
            return set(values)
    return None


def _is_run_id(node: exp.Expression, alias: str, sole: bool) -> bool:
    node = node.unnest()
    return isinstance(node, exp.Column) and node.name.lower() == RUN_ID and (
        node.table == alias or (not node.table and sole)
    )


def _string(node: exp.Expression) -> str | None:
    """A string constant, possibly cast to STRING (as bound parameters are)."""
    node = node.unnest()
    while isinstance(node, exp.Cast) and node.to.this in exp.DataType.TEXT_TYPES:
        node = node.this.unnest()
    return node.this if isinstance(node, exp.Literal) and node.is_string else None
