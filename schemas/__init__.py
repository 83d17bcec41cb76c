"""The data contract: one definition per table, everything else derived from it."""

from schemas.contract import Column, Kind, RowCheck, Table
from schemas.equity_curve import EQUITY_CURVE
from schemas.fills import FILLS
from schemas.orders import ORDERS
from schemas.positions import POSITIONS
from schemas.runs import RUNS

# The tables a run supplies, in write order; `runs` is derived and written last.
RUN_TABLES: dict[str, Table] = {t.name: t for t in (ORDERS, FILLS, POSITIONS, EQUITY_CURVE)}
TABLES: dict[str, Table] = {**RUN_TABLES, RUNS.name: RUNS}

__all__ = ["Column", "Kind", "RowCheck", "Table", "TABLES", "RUN_TABLES", "ORDERS", "FILLS", "POSITIONS", "EQUITY_CURVE", "RUNS"]
