"""offboard: get a business's data out of a SaaS account completely, provably and safely."""

from __future__ import annotations

__version__ = "0.1.0"
