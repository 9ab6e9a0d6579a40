"""Each read model is one unit: its tables (and the migration creating them), its
handlers and its queries in one module of projections/."""

from __future__ import annotations

import inspect
import re
from types import ModuleType

import asyncpg

from projections import (
    MIGRATIONS_DIR,
    actions,
    approvals,
    case_summary,
    circle,
    documents,
    kpi,
    outcomes,
    queries,
    referrals,
    reviews,
    service_directory,
    timeline,
    transfers,
)
from projections.base import Projection
from projections.catalog import all_projections

UNITS: tuple[ModuleType, ...] = (
    case_summary,
    approvals,
    referrals,
    reviews,
    outcomes,
    timeline,
    transfers,
    actions,
    circle,
    documents,
    kpi,
    service_directory,
)


def _projections_of(unit: ModuleType) -> list[Projection]:
    return [value for value in vars(unit).values() if isinstance(value, Projection)]


def test_every_projection_belongs_to_exactly_one_unit() -> None:
    owned = [p for unit in UNITS for p in _projections_of(unit)]
    assert sorted(p.name for p in owned) == sorted(p.name for p in all_projections())
    tables = [t for p in owned for t in p.tables]
    assert len(tables) == len(set(tables)), "a table is written by two projections"


def test_each_unit_names_its_tables_and_the_migration_creating_them() -> None:
    for unit in UNITS:
        doc = unit.__doc__ or ""
        assert unit.MIGRATIONS, unit.__name__
        ddl = "\n".join((MIGRATIONS_DIR / name).read_text() for name in unit.MIGRATIONS)
        for name in unit.MIGRATIONS:
            assert name in doc, f"{unit.__name__}'s docstring does not point at {name}"
        for projection in _projections_of(unit):
            for table in projection.tables:
                assert re.search(rf"CREATE TABLE IF NOT EXISTS {table} \(", ddl), (
                    f"{table} ({unit.__name__}) is not created by {unit.MIGRATIONS}"
                )
                assert f"`{table}`" in doc, f"{unit.__name__}'s docstring does not name {table}"


async def test_each_units_tables_exist_after_the_migrations(pool: asyncpg.Pool) -> None:
    for unit in UNITS:
        for projection in _projections_of(unit):
            for table in projection.tables:
                found = await pool.fetchval("SELECT to_regclass($1)::text", f"public.{table}")
                assert found == table, f"{table} of {unit.__name__} missing after migrations"


def test_the_queries_module_only_re_exports_the_units_queries() -> None:
    for name in queries.__all__:
        value = getattr(queries, name)
        home = inspect.getmodule(value) if not isinstance(value, tuple) else None
        if home is None:  # a constant: find the unit defining it
            homes = [u for u in UNITS if getattr(u, name, None) is value]
            assert len(homes) == 1, name
        else:
            assert home in UNITS, f"queries.{name} is defined in {home.__name__}"
    public_queries = {
        name
        for unit in UNITS
        for name, fn in vars(unit).items()
        if inspect.iscoroutinefunction(fn)
        and fn.__module__ == unit.__name__
        and "pool" in inspect.signature(fn).parameters
    }
    assert public_queries == {
        n for n in queries.__all__ if inspect.iscoroutinefunction(getattr(queries, n))
    }
