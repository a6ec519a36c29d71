from __future__ import annotations

from offboard.cli import main

main()
