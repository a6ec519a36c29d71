"""Manifest archives: build, sign and verify (see the archive format issue)."""
