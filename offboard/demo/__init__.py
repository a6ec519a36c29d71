"""The demo SaaS database: a multi-tenant invoicing/CRM database in the reference schema.

``generate_demo(path, accounts=3, scale="small", seed=1)`` writes ``path`` (SQLite, schema in
``schema.sql``) and a documents folder beside it (``<stem>-documents/``) holding the PDFs of
invoices, quotes, purchases and the billing history. See docs/reference-schema.md.
"""

from __future__ import annotations

from offboard.demo.generate import SCALES, DemoResult, Scale, generate_demo

__all__ = ["SCALES", "DemoResult", "Scale", "generate_demo"]
