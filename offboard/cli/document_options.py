"""The options that bound what one document may cost the worker that opens it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from offboard.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])
#: the smallest ``--document-memory`` accepted
MIN_MEMORY = 128 << 20


def document_limit_options(f: F) -> F:
    """``--document-memory``, ``--document-timeout``, ``--max-document-pages``, given to the
    command as one ``document_limits`` argument (a
    :class:`offboard.documents.sandbox.DocumentLimits`)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from offboard.documents.sandbox import DocumentLimits
        from offboard.options import parse_size

        memory = parse_size(kwargs.pop("document_memory"), "--document-memory")
        if memory < MIN_MEMORY:
            raise ConfigError(
                f"--document-memory: at least {MIN_MEMORY >> 20} MiB (the PDF engine itself "
                "needs about that much)"
            )
        kwargs["document_limits"] = DocumentLimits(
            memory=memory,
            seconds=kwargs.pop("document_timeout"),
            max_pages=kwargs.pop("max_document_pages"),
        )
        return f(*args, **kwargs)

    decorated: Any = wrapper
    for decorator in reversed(
        [
            click.option(
                "--document-memory",
                default="1GiB",
                show_default=True,
                metavar="SIZE",
                help="The memory (address space) the process that opens and bundles the PDFs "
                "may use; a document that needs more is reported, not bundled.",
            ),
            click.option(
                "--document-timeout",
                type=click.FloatRange(0.1, 86400),
                default=60.0,
                show_default=True,
                metavar="SECONDS",
                help="The time one PDF may take to be opened, checked and bundled; a document "
                "that takes longer is reported, not bundled.",
            ),
            click.option(
                "--max-document-pages",
                type=click.IntRange(1),
                default=10_000,
                show_default=True,
                metavar="N",
                help="A document with more pages is reported, not bundled.",
            ),
        ]
    ):
        decorated = decorator(decorated)
    result: F = decorated
    return result
