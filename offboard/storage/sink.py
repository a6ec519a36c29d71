"""A file object that writes into one S3 multipart upload, without a local copy.

The bytes written are cut into parts of ``part_size`` bytes (the last one shorter), each
uploaded with its SHA-256 (``ChecksumSHA256``, checked by S3 itself) as soon as it is whole,
while the next ones are written; at most ``in_flight`` parts are uploading at once, so memory
holds a few parts whatever the archive's size.

The zip writer writes a large member's local header before its data and rewrites it once the
data's CRC-32 and size are known (:meth:`manifests.zipfmt.writer.ZipWriter._write_large`).
It says so first: :meth:`hold` keeps the parts under the header in memory, not uploaded, until
:meth:`release`; a seek back into them and the rewrite are then plain writes to memory. A
write into a part already uploaded is refused (``io.UnsupportedOperation``), never silently
lost.

:meth:`finish` uploads what is left; the upload is completed by its owner
(:class:`offboard.storage.s3.S3Parts`), which keeps each part's number, ETag, size and SHA-256
(:attr:`parts`) to compare with the object read back.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = ["MIN_PART_SIZE", "MultipartSink", "SentPart", "part_size_for"]

#: S3's smallest part (but the last)
MIN_PART_SIZE = 5 << 20
#: the part size used for archives up to ``MAX_PARTS`` times it
DEFAULT_PART_SIZE = 8 << 20
#: S3's most parts per upload
MAX_PARTS = 10_000


def part_size_for(expected_size: int) -> int:
    """A part size that keeps an upload of ``expected_size`` bytes within S3's 10,000 parts
    (a whole number of MiB, at least 8 MiB)."""
    need = -(-expected_size // (MAX_PARTS - 100))
    mib = 1 << 20
    return max(DEFAULT_PART_SIZE, -(-need // mib) * mib)


@dataclass(frozen=True)
class SentPart:
    number: int
    etag: str
    size: int
    sha256: bytes

    @property
    def checksum(self) -> str:
        return base64.b64encode(self.sha256).decode("ascii")


class MultipartSink(io.RawIOBase):
    """Writes to the multipart upload ``upload_id`` of ``bucket``/``key`` (see the module)."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        key: str,
        upload_id: str,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        in_flight: int = 2,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part size {part_size} is below S3's {MIN_PART_SIZE}")
        self._client = client
        self.bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self.part_size = part_size
        self._pos = 0
        self._end = 0
        #: part index (from 0) -> its bytes, for the parts not uploaded yet
        self._buffers: dict[int, bytearray] = {}
        self._uploaded: set[int] = set()
        self._held: set[int] = set()
        self._pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="s3-part")
        self._slots = threading.BoundedSemaphore(in_flight)
        self._futures: list[Future[SentPart]] = []
        self._finished = False
        #: what was uploaded, by part number (filled by :meth:`finish`)
        self.parts: list[SentPart] = []

    # -- file object ---------------------------------------------------------------------------
    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._end}[whence]
        pos = base + offset
        if pos < 0 or pos > self._end:
            raise io.UnsupportedOperation(f"seek to {pos} outside the {self._end} bytes written")
        self._pos = pos
        return pos

    def write(self, data: Any) -> int:
        if self._finished:
            raise ValueError(f"s3://{self.bucket}/{self.key}: the upload is finished")
        view = memoryview(data).cast("B")
        total = len(view)
        done = 0
        size = self.part_size
        while done < total:
            index, within = divmod(self._pos, size)
            buf = self._buffer(index)
            take = min(size - within, total - done)
            if within > len(buf):
                raise io.UnsupportedOperation("a gap in an S3 part")
            buf[within : within + take] = view[done : done + take]
            done += take
            self._pos += take
            self._end = max(self._end, self._pos)
            if len(buf) == size and index not in self._held:
                self._send(index)
        return total

    # -- the zip writer's patches --------------------------------------------------------------
    def hold(self, offset: int, length: int) -> None:
        """Keep the parts under ``[offset, offset + length)`` until :meth:`release`."""
        first, last = offset // self.part_size, (offset + max(length, 1) - 1) // self.part_size
        for index in range(first, last + 1):
            if index in self._uploaded:
                raise io.UnsupportedOperation(f"part {index + 1} is already uploaded")
            self._held.add(index)

    def release(self) -> None:
        held, self._held = self._held, set()
        for index in sorted(held):
            buf = self._buffers.get(index)
            if buf is not None and len(buf) == self.part_size:
                self._send(index)

    # -- the end -------------------------------------------------------------------------------
    def finish(self) -> list[SentPart]:
        """Upload every part not sent yet; wait for all; return them by number."""
        if not self._finished:
            self._held.clear()
            for index in sorted(self._buffers):
                if self._buffers[index] or index == 0:
                    self._send(index)
            self._finished = True
            try:
                self.parts = sorted((f.result() for f in self._futures), key=lambda p: p.number)
            finally:
                self._pool.shutdown(wait=True)
        return self.parts

    def discard(self) -> None:
        """Stop: wait for the uploads under way (their result is not used)."""
        self._finished = True
        self._buffers.clear()
        for future in self._futures:
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        super().close()

    # -- helpers -------------------------------------------------------------------------------
    def _buffer(self, index: int) -> bytearray:
        buf = self._buffers.get(index)
        if buf is None:
            if index in self._uploaded:
                raise io.UnsupportedOperation(
                    f"s3://{self.bucket}/{self.key}: part {index + 1} is already uploaded"
                )
            if index + 1 > MAX_PARTS:
                raise io.UnsupportedOperation(
                    f"s3://{self.bucket}/{self.key}: more than {MAX_PARTS} parts of "
                    f"{self.part_size} bytes"
                )
            buf = self._buffers[index] = bytearray()
        return buf

    def _send(self, index: int) -> None:
        data = bytes(self._buffers.pop(index))
        self._uploaded.add(index)
        self._reap()
        self._slots.acquire()
        self._futures.append(self._pool.submit(self._upload, index + 1, data))

    def _reap(self) -> None:
        """Raise the first failure of the uploads done so far."""
        for future in self._futures:
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]

    def _upload(self, number: int, data: bytes) -> SentPart:
        try:
            digest = hashlib.sha256(data).digest()
            checksum = base64.b64encode(digest).decode("ascii")
            answer = self._client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=data,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
            )
            return SentPart(number, answer["ETag"], len(data), digest)
        finally:
            self._slots.release()
