"""The PostgreSQL source's URL, quoting and query wrapping (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from offboard.errors import SchemaError, SourceError
from offboard.sources import open_source
from offboard.sources.postgres import PostgresSource, bind_account, literal, parse_url, typed_query


def test_the_url_names_database_host_and_documents_without_secrets() -> None:
    libpq, root, description = parse_url(
        "postgresql://exporter@db.example:6543/saas?sslmode=require&documents=/srv/docs"
    )
    assert libpq == "postgresql://exporter@db.example:6543/saas?sslmode=require"
    assert root == Path("/srv/docs")
    assert description == "PostgreSQL database saas on db.example:6543"
    assert "exporter" not in description


def test_both_schemes_open_the_postgresql_source_without_connecting() -> None:
    for url in ("postgresql://u@h/db", "postgres://u@h:5433/db"):
        source = open_source(url)
        assert isinstance(source, PostgresSource)
        source.close()


def test_a_password_in_the_url_is_refused_and_never_echoed() -> None:
    with pytest.raises(SourceError) as info:
        parse_url("postgresql://u:s3cret-pw@h/db")
    assert "PGPASSWORD" in str(info.value) and "s3cret-pw" not in str(info.value)


@pytest.mark.parametrize("url", ["postgresql://h", "postgresql://h/", "mysql://h/db"])
def test_urls_without_a_database_or_of_another_scheme_are_refused(url: str) -> None:
    with pytest.raises(SourceError):
        parse_url(url)


def test_a_source_without_a_documents_folder_says_how_to_give_one() -> None:
    from offboard.sources.base import DocumentRef, DocumentUnavailable

    source = PostgresSource("postgresql://u@h/db")
    ref = DocumentRef("quotes", "q1", "DE-1", "2025-01-01", "x", "quotes/DE-1.pdf")
    with pytest.raises(DocumentUnavailable, match=r"\?documents=PATH"):
        source.document_path(ref)


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("acc-0001", "'acc-0001'"), ("o'brien", "'o''brien'"), ("a\\b", "'a\\b'"), ("", "''")],
)
def test_literals_double_their_quotes(value: str, quoted: str) -> None:
    assert literal(value) == quoted


def test_a_nul_cannot_be_sent() -> None:
    with pytest.raises(SourceError):
        literal("acc\x00; DROP TABLE invoices")


def test_the_account_replaces_the_one_parameter() -> None:
    sql = bind_account("SELECT * FROM t WHERE account_id = ?", "x' OR '1'='1")
    assert sql == "SELECT * FROM t WHERE account_id = 'x'' OR ''1''=''1'"
    with pytest.raises(SchemaError):
        bind_account("SELECT * FROM t WHERE a = ? AND b = ?", "x")
    with pytest.raises(SchemaError):
        bind_account("SELECT * FROM t", "x")


def test_every_type_is_converted_to_what_arrow_reads_exactly() -> None:
    sql = typed_query(
        "SELECT 1",
        ["n", "flag", "day", "at", "amount", "label"],
        [
            pa.int64(),
            pa.bool_(),
            pa.date32(),
            pa.timestamp("s", tz="UTC"),
            pa.decimal128(18, 2),
            pa.string(),
        ],
    )
    assert 'CAST(q."n" AS BIGINT) AS "n"' in sql
    assert 'CAST(q."flag" AS BOOLEAN)' in sql
    assert "to_char(CAST(q.\"day\" AS DATE), 'YYYY-MM-DD')" in sql
    assert "AT TIME ZONE 'UTC'" in sql and "date_trunc('second'" in sql
    assert 'CAST(q."amount" AS TEXT)' in sql and 'CAST(q."label" AS TEXT)' in sql
    with pytest.raises(SchemaError):
        typed_query("SELECT 1", ['x"; DROP'], [pa.string()])
