"""An exporter that exists only in the tests: it reads the account's own profile."""

from __future__ import annotations

from exporters.base import Exporter, Table, key, text, timestamp


class AccountsProfileExporter(Exporter):
    name = "account_profile"
    title = "Account profile (test plugin)"
    tables = (
        Table(
            name="account_profile",
            primary_key=("id",),
            columns=(
                key("id"),
                text("name", nullable=False),
                text("siren"),
                text("city"),
                timestamp("created_at"),
            ),
            query="""
                SELECT id, name, siren, city, created_at FROM accounts WHERE id = ? ORDER BY id
            """,
        ),
    )
