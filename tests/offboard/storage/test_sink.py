"""The multipart sink: whatever the writes, seeks and holds, S3 gets exactly the bytes a
plain file would hold; a rewrite of a part already sent is refused, never lost."""

from __future__ import annotations

import hashlib
import io
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offboard.storage.sink import MIN_PART_SIZE, MultipartSink, part_size_for

PART = MIN_PART_SIZE


class FakeClient:
    """Keeps the parts uploaded, by number (for the many-example tests)."""

    def __init__(self, fail_part: int | None = None) -> None:
        self.parts: dict[int, bytes] = {}
        self.fail_part = fail_part
        self.lock = threading.Lock()

    def upload_part(self, **kw: Any) -> dict[str, str]:
        import base64

        if kw["PartNumber"] == self.fail_part:
            raise ConnectionError("the network went away")
        body = kw["Body"]
        assert base64.b64decode(kw["ChecksumSHA256"]) == hashlib.sha256(body).digest()
        with self.lock:
            assert kw["PartNumber"] not in self.parts, "a part sent twice"
            self.parts[kw["PartNumber"]] = body
        return {"ETag": f'"{kw["PartNumber"]}"'}

    def object(self) -> bytes:
        numbers = sorted(self.parts)
        assert numbers == list(range(1, len(numbers) + 1))
        return b"".join(self.parts[n] for n in numbers)


def sink(client: Any) -> MultipartSink:
    return MultipartSink(client, "bucket", "key.zip", "upload-1", part_size=PART)


def _zip_like(sink_or_file: Any, ops: list[tuple[int, int]]) -> None:
    """The zip writer's pattern: a header, data, a seek back and a rewrite of the header."""
    for head, data in ops:
        offset = sink_or_file.tell()
        hold = getattr(sink_or_file, "hold", None)
        if hold is not None:
            hold(offset, head)
        sink_or_file.write(b"\x00" * head)
        sink_or_file.write(bytes([data % 251]) * data)
        end = sink_or_file.tell()
        sink_or_file.seek(offset)
        sink_or_file.write(hashlib.sha256(str((head, data)).encode()).digest()[:1] * head)
        sink_or_file.seek(end)
        if hold is not None:
            sink_or_file.release()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 300), st.integers(0, 3 * PART)),
        min_size=1,
        max_size=6,
    )
)
def test_any_sequence_of_patched_members_gives_the_file_bytes(ops: list[tuple[int, int]]) -> None:
    client = FakeClient()
    out = sink(client)
    _zip_like(out, ops)
    out.write(b"end of central directory")
    sent = out.finish()
    reference = io.BytesIO()
    _zip_like(reference, ops)
    reference.write(b"end of central directory")
    assert client.object() == reference.getvalue()
    assert [p.size for p in sent[:-1]] == [PART] * (len(sent) - 1)
    assert all(p.sha256 == hashlib.sha256(client.parts[p.number]).digest() for p in sent)


def test_a_header_across_a_part_boundary_holds_both_parts() -> None:
    client = FakeClient()
    out = sink(client)
    out.write(b"a" * (PART - 10))
    _zip_like(out, [(40, 2 * PART)])
    out.finish()
    reference = io.BytesIO()
    reference.write(b"a" * (PART - 10))
    _zip_like(reference, [(40, 2 * PART)])
    assert client.object() == reference.getvalue()


def test_rewriting_a_part_already_sent_is_refused() -> None:
    client = FakeClient()
    out = sink(client)
    out.write(b"x" * (PART + 1))  # part 1 is sent: nothing held it
    out.seek(5)
    with pytest.raises(io.UnsupportedOperation, match="part 1 is already uploaded"):
        out.write(b"y")
    with pytest.raises(io.UnsupportedOperation):
        out.hold(0, 10)


def test_an_upload_failure_is_raised_not_dropped() -> None:
    out = sink(FakeClient(fail_part=2))
    with pytest.raises(ConnectionError):
        for _ in range(4):
            out.write(b"z" * PART)
        out.finish()


def test_seeks_past_the_end_are_refused() -> None:
    out = sink(FakeClient())
    out.write(b"abc")
    with pytest.raises(io.UnsupportedOperation):
        out.seek(4)
    assert out.seek(0, io.SEEK_END) == 3


def test_part_size_keeps_within_ten_thousand_parts() -> None:
    assert part_size_for(1000) == 8 << 20
    for size in (80 << 30, 200 << 30, 5 << 40):
        part = part_size_for(size)
        assert part % (1 << 20) == 0
        assert -(-size // part) <= 10_000
