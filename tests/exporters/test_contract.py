"""The contract every exporter keeps, run over every registered exporter.

Includes ``account_profile``, an exporter defined only in the tests and registered at run time
the way a plugin is, so the suite proves it does not depend on the built-ins.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pytest

from exporters import Exporter, load_all
from exporters.registry import GROUP, validate
from offboard.sources.sqlite import SQLiteSource

BUILTINS = {
    "sales_invoices",
    "quotes",
    "purchases",
    "contacts",
    "catalogue",
    "bank",
    "billing_history",
}


def all_exporters() -> list[type[Exporter]]:
    from tests.exporters.plugin import AccountsProfileExporter

    return [*load_all().values(), AccountsProfileExporter]


@pytest.fixture(params=[e.name for e in all_exporters()])
def exporter_cls(request: pytest.FixtureRequest, extra_exporter: type) -> type[Exporter]:
    return load_all()[request.param]


def test_builtins_are_registered_through_entry_points() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group=GROUP)}
    assert names >= BUILTINS
    assert set(load_all()) >= BUILTINS


def test_test_plugin_is_discovered_like_the_builtins(extra_exporter: type) -> None:
    assert load_all()["account_profile"] is extra_exporter


def test_contract_declaration(exporter_cls: type[Exporter]) -> None:
    validate(exporter_cls, exporter_cls.name)
    assert exporter_cls.title
    for table in exporter_cls.tables:
        assert isinstance(table.schema, pa.Schema)
        assert table.schema.names == table.column_names
        assert "?" in table.query, "the account must be a bound parameter"
        assert "ORDER BY" in table.query.upper(), "rows must come in a stable order"


def test_contract_stream_matches_schema(exporter_cls: type[Exporter], demo_db: Path) -> None:
    source = SQLiteSource.from_url(f"sqlite:///{demo_db}")
    exporter = exporter_cls()
    account = source.accounts()[0].id
    try:
        for table in exporter.tables:
            rows = 0
            keys: set[tuple[object, ...]] = set()
            for batch in exporter.get_batches(source, account, table):
                assert batch.schema == table.schema
                rows += batch.num_rows
                pk = batch.select(list(table.primary_key)).to_pylist()
                for row in pk:
                    keys.add(tuple(row.values()))
            assert rows > 0, f"{table.name} is empty in the demo account"
            assert len(keys) == rows, f"{table.name}: primary key {table.primary_key} not unique"
        if exporter.documents is not None:
            refs = list(exporter.get_documents(source, account))
            assert refs and all(r.kind == exporter.documents.kind for r in refs)
    finally:
        source.close()


def test_contract_exports_to_csv(
    exporter_cls: type[Exporter], demo_db: Path, tmp_path: Path
) -> None:
    from offboard.pipeline import ExportOptions, export_account

    source = SQLiteSource.from_url(f"sqlite:///{demo_db}")
    account = source.accounts()[0].id
    summary = export_account(
        source,
        account,
        tmp_path / "out",
        ExportOptions(kinds=[exporter_cls.name], allow_missing_documents=True),
    )
    source.close()
    (kind,) = summary.kinds
    assert [t.table for t in kind.tables] == [t.name for t in exporter_cls.tables]
    for table, result in zip(exporter_cls.tables, kind.tables, strict=True):
        text = (tmp_path / "out" / result.path).read_text(encoding="utf-8")
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == table.column_names
        assert len(rows) - 1 == result.rows


def test_broken_plugin_is_reported_by_name() -> None:
    from offboard.errors import PluginError

    class NoTables(Exporter):
        name = "broken"
        title = "Broken"
        tables = ()

    with pytest.raises(PluginError, match="broken"):
        validate(NoTables, "broken")
    with pytest.raises(PluginError, match="declares name"):
        validate(NoTables, "other")
