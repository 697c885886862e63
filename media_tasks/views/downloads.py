"""A video rung's MP4 download (a sound alone's M4A), streamed from its plan (pipeline.progressive): the stored head,
then the samples' bytes read by range from the stream files. Nothing is stored twice, and on S3
the bytes pass through this process: a presigned redirect cannot join several objects.

Each file is read once per answer, as one span (a ranged GET on S3) from its first wanted byte
to its last, skipping the few bytes between the pieces (the moofs); answers to Range requests
(206) read only the spans they cover, so players can seek.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from .. import presenters, storage
from ..models import Asset
from ..pipeline.identity import DOWNLOAD_PLAN, Stream, TrackKind
from ..pipeline.progressive import DownloadPlan, Piece

logger = logging.getLogger(__name__)

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_MAX_SKIP = 1024 * 1024  # bytes read and dropped between two pieces of a file rather than a new GET


def is_download_plan(key: str) -> bool:
    """Whether a stored key is a stream's download plan (`hls/<asset>/video/720p-h264/download.json`;
    a sound alone's under `audio/`)."""
    return _stream(key) is not None


def _stream(key: str) -> Stream | None:
    area, _, rest = key.partition("/")
    directory, _, name = rest.partition("/")[2].rpartition("/")
    try:
        stream = Stream.parse(directory)
    except ValueError:
        return None
    return stream if area == storage.HLS and name == DOWNLOAD_PLAN else None


def download_response(request: HttpRequest, *, asset: Asset, key: str) -> HttpResponse:
    """The assembled MP4 (or the byte range asked for) under the title-based name (`<title>-720p.mp4`);
    a Range with an If-Range naming another version of it gets the whole file."""
    stream = _stream(key)
    if stream is None:
        raise Http404
    try:
        raw = storage.read_bytes(key)
    except FileNotFoundError as exc:
        raise Http404 from exc
    plan = DownloadPlan.from_json(json.loads(raw))
    etag = f'"{hashlib.sha256(raw).hexdigest()[:32]}"'
    if_range = request.headers.get("If-Range", etag)
    span = _span(request.headers.get("Range", "") if if_range == etag else "", plan.size)
    if span is None:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{plan.size}"
        return response
    start, end = span
    keys = {(p.stream_dir, p.file): _piece_key(asset, p) for p in plan.pieces}  # checked before a byte is sent
    body = _body(plan, lambda piece: keys[piece.stream_dir, piece.file], start, end)
    partial = (start, end) != (0, plan.size - 1)
    content_type = "video/mp4" if stream.kind == TrackKind.VIDEO else "audio/mp4"
    response = StreamingHttpResponse(body, status=206 if partial else 200, content_type=content_type)
    if partial:
        response["Content-Range"] = f"bytes {start}-{end}/{plan.size}"
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    filename = presenters.links.download_name(asset=asset, name=stream.download_name)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _piece_key(asset: Asset, piece: Piece) -> str:
    Stream.parse(piece.stream_dir)  # a plan names its own asset's stream files and nothing else
    if "/" in piece.file or piece.file.startswith("."):
        raise ValueError(f"not a stream file: {piece.file!r}")
    return storage.asset_key(storage.HLS, asset.id, f"{piece.stream_dir}/{piece.file}")


def _span(range_header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte to send: the whole file unless a single satisfiable range is asked
    for; None if it is unsatisfiable. Several ranges get the whole file, as RFC 9110 allows."""
    match = _RANGE.match(range_header.strip())
    if not match or not any(match.groups()) or size == 0:
        return 0, size - 1
    first, last = (_number(group) for group in match.groups())
    if first is None:  # "bytes=-N": the last N bytes
        return max(0, size - last), size - 1
    if first >= size or (last is not None and first > last):
        return None
    return first, size - 1 if last is None else min(last, size - 1)


def _number(digits: str) -> int | None:
    """A Range number; one longer than any file (and than int()'s digit limit) reads as 10**18."""
    if not digits:
        return None
    return int(digits) if len(digits) <= 18 else 10**18


def _body(plan: DownloadPlan, key_of, start: int, end: int) -> Iterator[bytes]:
    """Bytes `start`..`end` (inclusive) of the MP4 the plan describes."""
    if start < len(plan.head):
        yield plan.head[start : end + 1]
    wanted, position = [], len(plan.head)
    for piece in plan.pieces:
        first, stop = max(start, position), min(end + 1, position + piece.length)
        if first < stop:
            wanted.append((key_of(piece), piece.offset + first - position, stop - first))
        position += piece.length
    readers = {key: _Reader(key, max(o + n for k, o, n in wanted if k == key)) for key, _, _ in wanted}
    try:
        for key, offset, length in wanted:
            yield from readers[key].read(offset, length)
    finally:
        for reader in readers.values():
            reader.close()


class _Reader:
    """One stored file read forwards through one open span that ends at `end` (one past the
    last byte this answer wants of it): each piece after the first costs no request."""

    def __init__(self, key: str, end: int):
        self.key, self.end = key, end
        self.chunks: Iterator[bytes] | None = None
        self.position = 0
        self.buffer = memoryview(b"")

    def read(self, offset: int, length: int) -> Iterator[bytes]:
        if self.chunks is None or not 0 <= offset - self.position <= _MAX_SKIP:
            self.close()
            self.chunks = storage.read_range_chunks(self.key, offset, self.end - offset)
            self.position = offset
        skip = offset - self.position  # the moof and mdat header between two fragments
        while skip > 0:
            skip -= len(self._take(skip))
        while length > 0:
            data = self._take(length)
            length -= len(data)
            yield data
        if self.position >= self.end:
            self.close()

    def _take(self, limit: int) -> bytes:
        if limit and not self.buffer:
            self.buffer = memoryview(next(self.chunks, b""))
            if not self.buffer:  # the plan promised more than is stored: cut the answer short
                logger.error("download: %s ends before byte %d", self.key, self.position + limit)
                raise OSError(f"{self.key} is shorter than its download plan says")
        data, self.buffer = self.buffer[:limit], self.buffer[limit:]
        self.position += len(data)
        return bytes(data)

    def close(self) -> None:
        if self.chunks is not None:
            self.chunks.close()  # S3: its GET's body is closed (the generator's finally)
            self.chunks = None
            self.buffer = memoryview(b"")
