"""Bounded, streaming line input for log files: plain, gzip (.gz) or zstandard (.zst).

The compression is recognised by its magic bytes (gzip 1f 8b, zstd 28 b5 2f fd), not by the
file name. Lines are read one at a time with a length bound (MAX_LINE): a line longer than that is
read through to its end in bounded chunks and counted as skipped, never held whole. A compressed
stream that ends early (a truncated .gz/.zst, a log still being written) or is corrupt stops the
file there: what came before is kept and the stop is counted (reason "compressed stream truncated
or corrupt"). Nothing here loads a whole file into memory.

zstandard is not a new dependency: mitmproxy (the `traffic` extra) already requires it. Without
it a .zst file is refused with one line ("zstandard not installed"), never misread as text.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

MAX_LINE = 64 * 1024  # a log line longer than this is garbage
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
TRUNCATED = "compressed stream truncated or corrupt"
TOO_LONG = "line too long"
HEAD_BYTES = 8192


class Skips(Protocol):
    def skip(self, reason: str, n: int = 1) -> None: ...


class LogInputError(ValueError):
    """The file cannot be read at all."""


def compression(path: Path) -> str | None:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(GZIP_MAGIC):
        return "gzip"
    if magic.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


def open_binary(path: Path) -> BinaryIO:
    """The file's decompressed bytes as a buffered stream."""
    kind = compression(path)
    raw = open(path, "rb")  # noqa: SIM115  (closed by the returned stream's close())
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if kind == "zstd":
        try:
            import zstandard
        except ImportError:
            raw.close()
            raise LogInputError(f"{path}: zstandard-compressed, but zstandard is not installed") from None
        return io.BufferedReader(_ZstdRaw(raw, zstandard.ZstdDecompressor()), buffer_size=CHUNK)
    return raw


CHUNK = 64 * 1024
FEED = 1024


class _ZstdRaw(io.RawIOBase):
    """zstd frames, one after another, decompressed in bounded chunks. zstandard's own
    stream_reader ends silently at a truncated frame; this one raises EOFError there, as gzip
    does, so that a cut-off log is counted, not taken for complete."""

    def __init__(self, raw: BinaryIO, dctx: object) -> None:
        self._raw, self._dctx = raw, dctx
        self._obj = dctx.decompressobj()  # type: ignore[attr-defined]
        self._pending = b""
        self._at = 0
        self._started = False  # a frame has begun and not ended

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._at >= len(self._pending):
            # Small compressed reads bound what one step can expand to (a zstd RLE block turns a
            # few bytes into 128 KB): ~32 MB at worst, whatever the file.
            data = self._raw.read(FEED)
            self._pending, self._at = b"", 0
            if not data:
                if self._started and not self._obj.eof:
                    raise EOFError("zstd stream ends inside a frame")
                return 0
            while data:
                self._started = True
                self._pending += self._obj.decompress(data)
                data = b""
                if self._obj.eof:  # next frame, if any, starts in unused_data
                    data = self._obj.unused_data
                    self._obj = self._dctx.decompressobj()  # type: ignore[attr-defined]
                    self._started = bool(data)
        n = min(len(buffer), len(self._pending) - self._at)
        buffer[:n] = self._pending[self._at : self._at + n]
        self._at += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


# What a truncated or corrupt gzip/zstd stream raises while being read.
_STREAM_ERRORS: tuple[type[BaseException], ...] = (EOFError, gzip.BadGzipFile, zlib.error)
try:
    import zstandard as _zstd

    _STREAM_ERRORS = (*_STREAM_ERRORS, _zstd.ZstdError)
except ImportError:  # pragma: no cover - mitmproxy brings it
    pass


def head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first `size` decompressed bytes (what format sniffing looks at)."""
    got = b""
    with open_binary(path) as fh:
        try:
            while len(got) < size:  # small reads: a truncated stream still gives what it has
                chunk = fh.read(min(1024, size - len(got)))
                if not chunk:
                    break
                got += chunk
        except _STREAM_ERRORS:
            pass
    return got


def lines(path: Path, skipped: Skips) -> Iterator[str]:
    """The file's lines, decoded as UTF-8 (invalid bytes replaced), without the line end.
    Empty lines are not yielded."""
    with open_binary(path) as fh:
        while True:
            try:
                raw = fh.readline(MAX_LINE + 1)
            except _STREAM_ERRORS:
                skipped.skip(TRUNCATED)
                return
            if not raw:
                return
            if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                skipped.skip(TOO_LONG)
                try:
                    while True:  # read the rest of the line through, in bounded chunks
                        rest = fh.readline(MAX_LINE)
                        if not rest or rest.endswith(b"\n"):
                            break
                except _STREAM_ERRORS:
                    skipped.skip(TRUNCATED)
                    return
                continue
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.strip():
                yield line
