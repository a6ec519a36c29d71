"""The HTTP source against a real local JSON API (tests/httpapi.py), with injected faults.

A clean run, in every pagination style, gives the SQLite source's export byte for byte,
documents included. Each fault either gives that same payload (it was retried: 429 with either
form of Retry-After, 5xx, resets, timeouts, answers cut short against their Content-Length) or
stops the export with a clear error and nothing under the final name (invalid JSON, a body cut
short without a Content-Length, a repeated page, a skipped page, a final 4xx); never a silent
gap. The token comes from the environment, and never shows in output or logs.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from offboard.errors import ExitCode
from tests.httpapi import (
    Delay,
    DemoApi,
    Fault,
    InvalidJson,
    RepeatPage,
    Reset,
    SkipPage,
    Status,
    TruncatedClose,
    TruncatedLength,
    demo_api_fixture,  # noqa: F401
    demo_api_session,  # noqa: F401
    http_date,
)
from tests.offboard.sources.exports import export, files

ROOT = Path(__file__).resolve().parents[3]
MAPPING = ROOT / "docs" / "mappings" / "demo-api.toml"
TOKEN_ENV = "OFFBOARD_DEMO_API_TOKEN"
#: one table's pages, and the table whose CSV the fault tests compare
INVOICES = r"/tables/sales_invoices\b"
#: the second page of sales invoices in the mapping's style (next links: offset=50)
SECOND_PAGE = INVOICES + r".*offset=50\b"


def mapping(tmp_path: Path, **changes: object) -> Path:
    """The demo API's mapping with some [http] keys changed (fast retries by default)."""
    text = MAPPING.read_text(encoding="utf-8")
    settings = {"backoff": 0.01, "max_wait": 2, "timeout": 5, **changes}
    for key, value in settings.items():
        line = f"{key} = {value!r}".replace("'", '"')
        pattern = rf"^{key} = .*$"
        if re.search(pattern, text, flags=re.MULTILINE):
            text = re.sub(pattern, line, text, count=1, flags=re.MULTILINE)
        else:
            text = text.replace("[http]\n", f"[http]\n{line}\n", 1)
    path = tmp_path / "api.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def token(demo_api: DemoApi, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, demo_api.token)
    return demo_api.token


def test_the_api_export_is_byte_identical_to_the_sqlite_one(
    demo_api: DemoApi, token: str, sqlite_export: dict[str, bytes], tmp_path: Path
) -> None:
    code, output = export(demo_api.base_url, tmp_path / "out", "--mapping", str(MAPPING))
    assert code == 0, output
    got = files(tmp_path / "out")
    assert sorted(got) == sorted(sqlite_export)
    assert [n for n in sqlite_export if got[n] != sqlite_export[n]] == []
    assert any(n.endswith(".pdf") for n in got)


@pytest.mark.parametrize("style", ["cursor", "page", "offset"])
def test_every_pagination_style_gives_the_same_tables(
    demo_api: DemoApi, token: str, sqlite_export: dict[str, bytes], tmp_path: Path, style: str
) -> None:
    m = mapping(tmp_path, pagination=style, page_size=37)
    code, output = export(
        demo_api.base_url, tmp_path / "out", "--mapping", str(m), "--no-documents"
    )
    assert code == 0, output
    got = files(tmp_path / "out")
    tables = {n: v for n, v in sqlite_export.items() if n.startswith("csv/")}
    assert {n: got[n] for n in tables} == tables
    pages = [r.path for r in demo_api.requests if "/tables/sales_invoices" in r.path]
    param = {"cursor": "cursor=", "page": "page=", "offset": "offset="}[style]
    assert len(pages) > 3 and all(param in p for p in pages[1:])


def invoices_only(api: DemoApi, tmp_path: Path, m: Path) -> tuple[int, str]:
    return export(
        api.base_url,
        tmp_path / "out",
        "--mapping",
        str(m),
        "--no-documents",
        "--kinds",
        "sales_invoices",
    )


@pytest.mark.parametrize(
    "fault",
    [
        Status(429, retry_after="1"),
        Status(500),
        Status(502),
        Status(503),
        Reset(),
        TruncatedLength(),
    ],
    ids=["429-seconds", "500", "502", "503", "reset", "cut-short"],
)
def test_transient_faults_are_retried_to_the_same_payload(
    demo_api: DemoApi,
    token: str,
    sqlite_export: dict[str, bytes],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
) -> None:
    demo_api.inject(SECOND_PAGE, fault)
    m = mapping(tmp_path, page_size=50)
    with caplog.at_level(logging.WARNING, logger="offboard.sources.http"):
        code, output = invoices_only(demo_api, tmp_path, m)
    assert code == 0, output
    got = files(tmp_path / "out")
    assert got["csv/sales_invoices.csv"] == sqlite_export["csv/sales_invoices.csv"]
    assert [r.fault for r in demo_api.requests if r.fault is not None] == [fault]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "attempt 1 of 5 failed" in warnings[0]
    if isinstance(fault, Status) and fault.retry_after:
        assert "retrying in 1.0 s" in warnings[0]  # the server's Retry-After, honoured
    assert token not in output + "".join(warnings)


def test_retry_after_as_an_http_date_is_honoured(
    demo_api: DemoApi, token: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    demo_api.inject(INVOICES, Status(429, retry_after=http_date(2)))
    with caplog.at_level(logging.WARNING, logger="offboard.sources.http"):
        code, output = invoices_only(demo_api, tmp_path, mapping(tmp_path, max_wait=3))
    assert code == 0, output
    (warning,) = [r.getMessage() for r in caplog.records]
    pause = float(re.search(r"retrying in ([0-9.]+) s", warning).group(1))  # type: ignore[union-attr]
    assert 0.5 <= pause <= 3.0  # about 2 s from the date (whole seconds), never the backoff


def test_a_retry_after_beyond_the_cap_waits_the_cap(
    demo_api: DemoApi, token: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    demo_api.inject(INVOICES, Status(429, retry_after="3600"))
    with caplog.at_level(logging.WARNING, logger="offboard.sources.http"):
        code, output = invoices_only(demo_api, tmp_path, mapping(tmp_path, max_wait=0.2))
    assert code == 0, output
    assert "retrying in 0.2 s" in caplog.records[0].getMessage()


def test_a_timeout_is_retried(demo_api: DemoApi, token: str, tmp_path: Path) -> None:
    demo_api.inject(INVOICES, Delay(3))
    code, output = invoices_only(demo_api, tmp_path, mapping(tmp_path, timeout=0.5))
    assert code == 0, output


def test_retries_end_with_a_clear_error(demo_api: DemoApi, token: str, tmp_path: Path) -> None:
    demo_api.inject(INVOICES, *[Status(503)] * 5)
    code, output = invoices_only(demo_api, tmp_path, mapping(tmp_path))
    assert code == ExitCode.SOURCE_UNAVAILABLE, output
    assert "no usable answer after 5 attempt(s)" in output and "HTTP 503" in output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (InvalidJson(), "not valid JSON"),
        (TruncatedClose(), "not valid JSON"),
        (RepeatPage(), "repeated a page"),
        (SkipPage(), "records were skipped"),
        (Status(404), "HTTP 404"),
        (Status(400), "HTTP 400"),
    ],
    ids=["invalid-json", "cut-short-no-length", "repeated-page", "skipped-page", "404", "400"],
)
def test_broken_answers_stop_the_export_naming_the_page(
    demo_api: DemoApi, token: str, tmp_path: Path, fault: Fault, message: str
) -> None:
    demo_api.inject(SECOND_PAGE, fault)
    code, output = invoices_only(demo_api, tmp_path, mapping(tmp_path, page_size=50))
    assert code == 3, output
    assert message in output and "sales_invoices" in output, output
    assert not (tmp_path / "out").exists()
    if isinstance(fault, Status):  # final: never retried
        assert sum(1 for r in demo_api.requests if r.fault is not None) == 1


def test_a_skipped_page_is_caught_without_a_repeat_or_a_gap_in_links(
    demo_api: DemoApi, token: str, tmp_path: Path
) -> None:
    """Page style: the server answers page 2 with page 3's records; only the total tells."""
    demo_api.inject(INVOICES + r".*page=2\b", SkipPage())
    code, output = invoices_only(
        demo_api, tmp_path, mapping(tmp_path, pagination="page", page_size=40)
    )
    assert code == 3, output
    # the page after the skipped one then repeats it, or the count falls short of the total
    assert "repeated a page" in output or "records were skipped" in output, output


def test_the_token_comes_from_the_environment_only(
    demo_api: DemoApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    code, output = invoices_only(demo_api, tmp_path, mapping(tmp_path))
    assert code == 3 and f"environment variable {TOKEN_ENV}, which is not set" in output
    monkeypatch.setenv(TOKEN_ENV, "not-the-token")
    code, output = invoices_only(demo_api, tmp_path, mapping(tmp_path))
    assert code == 3 and "HTTP 401" in output and "not-the-token" not in output


def test_an_http_source_needs_an_http_mapping(
    demo_api: DemoApi, token: str, tmp_path: Path
) -> None:
    code, output = export(demo_api.base_url, tmp_path / "out")
    assert code == ExitCode.MAPPING and "needs --mapping FILE with an [http] section" in output
    bad = mapping(tmp_path, pagination="sideways")
    code, output = export(demo_api.base_url, tmp_path / "out", "--mapping", str(bad))
    assert code == ExitCode.MAPPING and "pagination must be one of" in output and str(bad) in output


def test_next_links_and_documents_stay_on_the_api_s_host() -> None:
    from offboard.errors import SourceError
    from offboard.sources.http.pages import Client
    from offboard.sources.http.spec import parse_http

    spec = parse_http({"http": {}}, "test")
    client = Client("http://127.0.0.1:9/api/v1", spec.client, "secret")
    assert client.target_of("http://127.0.0.1:9/api/v1/x?page=2") == "/api/v1/x?page=2"
    for other in ("http://evil.example/api/v1/x", "https://127.0.0.1:9/x", "http://127.0.0.1:10/x"):
        with pytest.raises(SourceError, match="another host"):
            client.target_of(other)


@pytest.mark.parametrize(
    ("value", "cents", "text"),
    [
        ("45714.00", False, "45714.00"),
        (4571400, True, "45714.00"),
        (-1250, True, "-12.50"),
        (5, True, "0.05"),
    ],
)
def test_json_values_are_read_exactly(value: object, cents: bool, text: str) -> None:
    from decimal import Decimal

    import pyarrow as pa

    from offboard.sources.http import _value

    given = Decimal(value) if isinstance(value, str) else value
    assert _value(given, pa.decimal128(18, 2), cents) == text


@pytest.mark.parametrize(
    ("value", "cents", "why"),
    [
        (12.5, True, "whole number of cents"),
        ({"a": 1}, False, "JSON object"),
        ([1], False, "JSON list"),
        (True, False, "where a"),
    ],
)
def test_json_values_that_do_not_fit_are_refused(value: object, cents: bool, why: str) -> None:
    from decimal import Decimal

    import pyarrow as pa

    from offboard.sources.http import _value

    given = Decimal(str(value)) if isinstance(value, float) else value
    with pytest.raises(ValueError, match=why):
        _value(given, pa.decimal128(18, 2), cents)


def test_accounts_and_mapping_check_through_the_api(
    demo_api: DemoApi, token: str, tmp_path: Path
) -> None:
    import json

    from click.testing import CliRunner

    from offboard.cli import cli

    done = CliRunner().invoke(cli, ["accounts", demo_api.base_url, "--mapping", str(MAPPING)])
    assert done.exit_code == 0 and done.output.startswith("acc-0001\t"), done.output
    done = CliRunner().invoke(
        cli,
        [
            "mapping",
            "check",
            demo_api.base_url,
            "--mapping",
            str(MAPPING),
            "-a",
            "acc-0001",
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["ok"] and all(t["mapped"] and t["rows"] > 0 for t in report["tables"])
    for d in report["documents"]:  # the demo's missing purchase PDF is a 404 of the API
        assert d["found"] > 0 and d["found"] + sum(d["unavailable"].values()) == d["documents"]
    assert token not in done.output


def test_credentials_in_the_url_are_refused(tmp_path: Path) -> None:
    code, output = export(
        "http://user:s3cret@127.0.0.1:9/api", tmp_path / "out", "--mapping", str(MAPPING)
    )
    assert code in (2, 3) and "must not hold credentials" in output and "s3cret" not in output


def test_an_api_key_header_carries_the_token_as_it_is() -> None:
    from offboard.sources.http.pages import Client
    from offboard.sources.http.spec import parse_http

    bearer = parse_http({"http": {}}, "test").client
    keyed = parse_http({"http": {"auth": "header", "header": "X-API-Key"}}, "test").client
    assert Client("http://127.0.0.1:9/v1", bearer, "t0k")._auth == {"Authorization": "Bearer t0k"}
    assert Client("http://127.0.0.1:9/v1", keyed, "t0k")._auth == {"X-API-Key": "t0k"}
    assert Client("http://127.0.0.1:9/v1", keyed, None)._auth == {}


def test_the_api_key_header_reaches_the_server(
    demo_api: DemoApi, token: str, tmp_path: Path
) -> None:
    """The demo API wants a bearer token: the same token in another header is refused (401),
    which shows the header named by the mapping is the one sent."""
    m = mapping(tmp_path, auth="header", header="X-API-Key")
    code, output = invoices_only(demo_api, tmp_path, m)
    assert code == 3 and "HTTP 401" in output and token not in output
