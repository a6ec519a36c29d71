"""Accounting files: the FEC format (:mod:`.fec`) and its checker (:mod:`.fec_check`).

Nothing here depends on the exporters, the sources or the archive: the checker reads bytes and
reports problems, the format module turns typed rows into FEC lines.
"""
