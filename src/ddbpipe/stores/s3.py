"""A store backed by an S3 bucket (or any S3-compatible server), and its error mapping.

Every call is retried by ddbpipe's one retry loop (botocore's own retries are off):
throttling (``SlowDown``), 5xx answers, dropped connections and timeouts are tried
again with backoff, as are the parts of a multipart upload and its completion. A
download cut in the middle of its body goes on from the byte where it stopped, with a
ranged GET of the same object version (``If-Match`` its ETag).

A retried call may find that the attempt before it did its work and only the answer was
lost: a completion or an abort then finds the upload gone (``NoSuchUpload``), which is
success, and a retried start of a multipart upload may have started another upload of
the same key, which is aborted when the write ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
)

from ddbpipe.errors import (
    AccessDeniedError,
    BucketNotFoundError,
    ConfigError,
    DataError,
    DdbpipeError,
    EndpointUnreachableError,
    NotFoundError,
    RetriableError,
    ServiceError,
    ThrottledError,
    TransientError,
)
from ddbpipe.retry import DEFAULT_RETRY_POLICY, Backoff, RetryPolicy
from ddbpipe.stores.base import DEFAULT_CHUNK_SIZE, Listing, ObjectInfo, Writer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, ListObjectsV2RequestTypeDef

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_PART_SIZE",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "S3Store",
    "map_s3_error",
]

MIN_PART_SIZE = 5 << 20
"""S3's smallest part of a multipart upload (every part but the last)."""

MAX_PART_SIZE = 5 << 30
"""S3's largest part of a multipart upload."""

DEFAULT_PART_SIZE = 8 << 20
"""Bytes buffered by ``open_write`` before a part is sent."""

DEFAULT_PAGE_SIZE = 1000
"""Keys asked for per ListObjectsV2 page (S3's own maximum)."""

_PARTS_PER_SIZE_STEP = 1000
"""The part size doubles after this many parts, so that 10,000 parts hold any object."""

_S3Error = (
    ClientError | ConnectionError | HTTPClientError | IncompleteReadError | NoCredentialsError
)
_S3_ERRORS = (
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
)

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "NoSuchUpload", "404"})
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccountProblem",
        "AllAccessDisabled",
        "ExpiredToken",
        "Forbidden",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "403",
    }
)
_THROTTLED_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "503",
    }
)
_TRANSIENT_CODES = frozenset({"InternalError", "RequestTimeout", "RequestTimeoutException"})

T = TypeVar("T")


class _Reach:
    """Whether the endpoint has answered yet, shared by a store and its children: a
    connection refused before any answer means a wrong endpoint, not a passing fault."""

    answered = False


class S3Store:
    """The Store protocol over the keys under ``prefix`` in an S3 bucket.

    The boto3 S3 client is passed in and shared with every ``child`` store.
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        part_size: int = DEFAULT_PART_SIZE,
        page_size: int = DEFAULT_PAGE_SIZE,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        reach: _Reach | None = None,
    ) -> None:
        if not bucket:
            raise ConfigError("an S3 store needs a bucket name")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ConfigError(
                f"part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE} bytes, "
                f"got {part_size}"
            )
        if not 1 <= page_size <= DEFAULT_PAGE_SIZE:
            raise ConfigError(f"page_size must be between 1 and 1000, got {page_size}")
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._part_size = part_size
        self._page_size = page_size
        self._retry = retry
        self._sleep = sleep
        self._reach = reach or _Reach()

    def __repr__(self) -> str:
        return f"S3Store({self.url!r})"

    @property
    def client(self) -> S3Client:
        """The boto3 S3 client this store calls."""
        return self._client

    @property
    def bucket(self) -> str:
        """The bucket name."""
        return self._bucket

    @property
    def prefix(self) -> str:
        """The root's key prefix, without leading or trailing ``/``."""
        return self._prefix

    @property
    def url(self) -> str:
        """``s3://bucket/prefix``, or ``s3://bucket`` at the top of the bucket."""
        return self._url(self._prefix)

    def url_for(self, key: str) -> str:
        """``s3://bucket/prefix/key``."""
        return self._url(self._key(key))

    def child(self, prefix: str) -> S3Store:
        """A store rooted at ``prefix`` under this one, sharing the client."""
        return S3Store(
            self._client,
            self._bucket,
            self._key(prefix),
            part_size=self._part_size,
            page_size=self._page_size,
            retry=self._retry,
            sleep=self._sleep,
            reach=self._reach,
        )

    def list_dir(self, prefix: str = "") -> Listing:
        """Objects (with sizes) and subfolder names directly under ``prefix``, sorted.

        Raises ``NotFoundError`` when no key at all starts with a non-empty folder
        prefix, and ``BucketNotFoundError`` when the bucket does not exist.
        """
        folder = self._key(prefix)
        folder_key = f"{folder}/" if folder else ""
        root = f"{self._prefix}/" if self._prefix else ""
        files: list[ObjectInfo] = []
        folders: list[str] = []
        marker = False
        token: str | None = None
        while True:
            request: ListObjectsV2RequestTypeDef = {
                "Bucket": self._bucket,
                "Prefix": folder_key,
                "Delimiter": "/",
                "MaxKeys": self._page_size,
            }
            if token:
                request["ContinuationToken"] = token
            page = self._list_page(folder_key, request)
            for obj in page.get("Contents", []):
                if obj["Key"] == folder_key:
                    marker = True
                else:
                    files.append(ObjectInfo(obj["Key"][len(root) :], obj["Size"]))
            for common in page.get("CommonPrefixes", []):
                folders.append(common["Prefix"][len(folder_key) :].rstrip("/"))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        if folder and not (files or folders or marker):
            raise NotFoundError(f"folder not found: {self._url(folder_key)}")
        files.sort(key=lambda info: info.key)
        folders.sort()
        return Listing(files=files, folders=folders)

    def _list_page(self, folder_key: str, request: ListObjectsV2RequestTypeDef) -> Any:
        return self._call(
            "s3:ListBucket",
            self._url(folder_key),
            lambda: self._client.list_objects_v2(**request),
        )

    def exists(self, key: str) -> bool:
        """Whether the object ``key`` exists (HeadObject)."""
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        """Bytes in the object ``key`` (HeadObject); None when it does not exist."""
        try:
            head = self._call(
                "s3:GetObject",
                self.url_for(key),
                lambda: self._client.head_object(Bucket=self._bucket, Key=self._key(key)),
            )
        except BucketNotFoundError:
            raise
        except NotFoundError:
            return None
        return int(head["ContentLength"])

    def read_bytes(self, key: str) -> bytes:
        """The whole content of the object ``key``."""
        return b"".join(self.iter_chunks(key))

    def iter_chunks(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Stream the object ``key`` in chunks of at most ``chunk_size`` bytes.

        ``NotFoundError`` is raised when iteration starts if the object is missing. A
        stream cut short goes on from where it stopped; ``DataError`` is raised when the
        object changed in between.
        """
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        url = self.url_for(key)
        backoff = Backoff(self._retry, f"S3 s3:GetObject on {url}", sleep=self._sleep)
        offset = 0
        etag: str | None = None
        while True:
            request: dict[str, Any] = {"Bucket": self._bucket, "Key": self._key(key)}
            if etag is not None:
                request.update(Range=f"bytes={offset}-", IfMatch=etag)
            response = self._get(url, request, etag)
            etag = etag or response.get("ETag")
            body = response["Body"]
            try:
                with self._translated("s3:GetObject", url):
                    for chunk in body.iter_chunks(chunk_size):
                        offset += len(chunk)
                        backoff.succeeded()
                        yield chunk
                return
            except RetriableError as exc:
                backoff.failed(exc)  # cut short: go on from ``offset``
            finally:
                body.close()

    def _get(self, url: str, request: dict[str, Any], etag: str | None) -> Any:
        """GetObject; when resuming a read of the version with ``etag``, a DataError if the
        object changed: S3 refuses the ``If-Match``, and a server that ignores it (rclone)
        answers with another ETag."""
        try:
            response = self._call("s3:GetObject", url, lambda: self._client.get_object(**request))
        except ServiceError as exc:
            if etag is not None and exc.code == "PreconditionFailed":
                raise DataError("the object changed while it was being read", source=url) from exc
            raise
        if etag is not None and response.get("ETag", etag) != etag:
            response["Body"].close()
            raise DataError("the object changed while it was being read", source=url)
        return response

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write the object ``key`` with one PutObject (atomic in S3)."""
        self._call(
            "s3:PutObject",
            self.url_for(key),
            lambda: self._client.put_object(Bucket=self._bucket, Key=self._key(key), Body=data),
        )

    @contextmanager
    def open_write(self, key: str) -> Iterator[Writer]:
        """Stream a new object into ``key``; it appears only if the block ends without error.

        Up to one part of bytes is held in memory. Objects no larger than a part are
        sent with one PutObject, larger ones as a multipart upload, which is aborted
        if the block raises.
        """
        writer = _ObjectWriter(self, key)
        try:
            yield writer
            writer.finish()
        except BaseException as exc:
            writer.abort(exc)
            raise

    def delete(self, key: str) -> None:
        """Remove the object ``key``; removing a missing object is not an error."""
        self._call(
            "s3:DeleteObject",
            self.url_for(key),
            lambda: self._client.delete_object(Bucket=self._bucket, Key=self._key(key)),
        )

    def abort_incomplete_writes(self) -> int:
        """Abort the multipart uploads still open below the root; return how many."""
        prefix = f"{self._prefix}/" if self._prefix else ""
        return self._abort_uploads(prefix, lambda key, upload_id: True)

    def _abort_uploads(self, prefix: str, chosen: Callable[[str, str], bool]) -> int:
        """Abort the uploads open under the full key ``prefix`` that ``chosen(key, upload
        id)`` picks; return how many."""
        url = self._url(prefix)
        aborted = 0
        key_marker = upload_marker = ""
        while True:
            request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
            if key_marker:
                request.update(KeyMarker=key_marker, UploadIdMarker=upload_marker)
            page = self._list_uploads(url, request)
            for upload in page.get("Uploads", []):
                if chosen(upload["Key"], upload["UploadId"]):
                    self._abort_upload(upload["Key"], upload["UploadId"])
                    aborted += 1
            if not page.get("IsTruncated"):
                return aborted
            key_marker = page.get("NextKeyMarker", "")
            upload_marker = page.get("NextUploadIdMarker", "")

    def _list_uploads(self, url: str, request: dict[str, Any]) -> Any:
        try:
            return self._call(
                "s3:ListBucketMultipartUploads",
                url,
                lambda: self._client.list_multipart_uploads(**request),
            )
        except BucketNotFoundError:
            raise
        except NotFoundError:
            return {}  # rclone answers NoSuchUpload when no upload at all is open

    def _abort_upload(self, full_key: str, upload_id: str) -> None:
        """Abort one upload; one already gone (``NoSuchUpload``: an attempt whose answer
        was lost aborted it, or it ended otherwise) is not open any more, as wanted."""
        try:
            self._call(
                "s3:AbortMultipartUpload",
                self._url(full_key),
                lambda: self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=full_key, UploadId=upload_id
                ),
            )
        except BucketNotFoundError:
            raise
        except NotFoundError:
            pass

    def _call(self, action: str, url: str, call: Callable[[], T]) -> T:
        """``call`` with S3's errors translated, retried while they are retriable."""
        backoff = Backoff(self._retry, f"S3 {action} on {url}", sleep=self._sleep)
        while True:
            try:
                with self._translated(action, url):
                    return call()
            except RetriableError as exc:
                backoff.failed(exc)

    def _key(self, key: str) -> str:
        key = key.strip("/")
        if not self._prefix:
            return key
        return f"{self._prefix}/{key}" if key else self._prefix

    def _url(self, full_key: str) -> str:
        return f"s3://{self._bucket}/{full_key}" if full_key else f"s3://{self._bucket}"

    @contextmanager
    def _translated(self, action: str, url: str) -> Iterator[None]:
        try:
            yield
        except _S3_ERRORS as exc:
            if isinstance(exc, EndpointConnectionError) and not self._reach.answered:
                endpoint = self._client.meta.endpoint_url
                raise EndpointUnreachableError(
                    "S3", endpoint, str(exc.kwargs.get("error") or exc)
                ) from exc
            if isinstance(exc, ClientError):
                self._reach.answered = True
            raise map_s3_error(exc, action=action, bucket=self._bucket, url=url) from exc
        self._reach.answered = True


class _ObjectWriter:
    """The ``Writer`` of ``S3Store.open_write``: buffers one part at a time."""

    def __init__(self, store: S3Store, key: str) -> None:
        self._store = store
        self._client = store.client
        self._bucket = store.bucket
        self._key = store._key(key)
        self._key_in_store = key
        self._url = store.url_for(key)
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._start_retried = False
        self._parts: list[CompletedPartTypeDef] = []

    def write(self, data: bytes, /) -> int:
        view = memoryview(data).cast("B")
        while view:
            limit = self._part_limit()
            if len(self._buffer) >= limit:
                self._send_part()
                limit = self._part_limit()
            taken = limit - len(self._buffer)
            self._buffer += view[:taken]
            view = view[taken:]
        return len(data)

    def finish(self) -> None:
        """Make the object visible: one PutObject, or the last part and completion."""
        if self._upload_id is None:
            body = bytes(self._buffer)
            self._store._call(
                "s3:PutObject",
                self._url,
                lambda: self._client.put_object(Bucket=self._bucket, Key=self._key, Body=body),
            )
            return
        if self._buffer:
            self._send_part()
        self._complete(self._upload_id)
        self._abort_strays()

    def _complete(self, upload_id: str) -> None:
        """Complete the upload; a retry that finds it gone checks whether the completion
        before it went through (its answer was lost) by looking for the object."""
        backoff = Backoff(
            self._store._retry, f"S3 completion of {self._url}", sleep=self._store._sleep
        )
        while True:
            try:
                with self._store._translated("s3:PutObject", self._url):
                    self._client.complete_multipart_upload(
                        Bucket=self._bucket,
                        Key=self._key,
                        UploadId=upload_id,
                        MultipartUpload={"Parts": self._parts},
                    )
                return
            except RetriableError as exc:
                backoff.failed(exc)
            except NotFoundError:
                if backoff.failures and self._store.size(self._key_in_store) is not None:
                    return
                raise

    def abort(self, cause: BaseException) -> None:
        """Abort the multipart upload, if one started; a failure is noted on ``cause``."""
        if self._upload_id is None:
            return
        upload_id = self._upload_id
        try:
            self._store._abort_upload(self._key, upload_id)
            self._abort_strays()
        except DdbpipeError as exc:
            cause.add_note(f"aborting multipart upload {upload_id} failed: {exc}")

    def _start(self) -> str:
        """Start the multipart upload and return its id, noting whether it took retries."""
        attempts = 0

        def create() -> Any:
            nonlocal attempts
            attempts += 1
            return self._client.create_multipart_upload(Bucket=self._bucket, Key=self._key)

        upload_id: str = self._store._call("s3:PutObject", self._url, create)["UploadId"]
        self._start_retried = attempts > 1
        return upload_id

    def _abort_strays(self) -> None:
        """Abort the other uploads of this key when the start was retried: an attempt
        whose answer was lost may have started one, which nothing would ever end. A key
        is written by one writer at a time, so any other upload of it is such a stray."""
        if not self._start_retried:
            return
        ours = self._upload_id
        self._store._abort_uploads(
            self._key, lambda key, upload_id: key == self._key and upload_id != ours
        )

    def _part_limit(self) -> int:
        step = len(self._parts) // _PARTS_PER_SIZE_STEP
        return min(self._store._part_size << step, MAX_PART_SIZE)

    def _send_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = self._start()
        upload_id = self._upload_id
        number = len(self._parts) + 1
        body = bytes(self._buffer)
        response = self._store._call(
            "s3:PutObject",
            self._url,
            lambda: self._client.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
            ),
        )
        self._parts.append({"ETag": response["ETag"], "PartNumber": number})
        self._buffer = bytearray()


def map_s3_error(exc: _S3Error, *, action: str, bucket: str, url: str) -> DdbpipeError:
    """The ddbpipe error for a botocore error raised while doing ``action`` on ``url``.

    ``action`` is the IAM action name (``s3:GetObject``); ``bucket`` is named when
    the bucket is missing.
    """
    if isinstance(exc, NoCredentialsError):
        return ConfigError(f"no AWS credentials found to reach {url}")
    if not isinstance(exc, ClientError):
        return TransientError(f"S3 {action} on {url} failed: {exc}")
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    code = error.get("Code") or str(status)
    message = error.get("Message") or code
    if code == "NoSuchBucket":
        return BucketNotFoundError(bucket)
    if code in _NOT_FOUND_CODES or status == 404:
        return NotFoundError(f"not found: {url} ({code})")
    if code in _DENIED_CODES or status == 403:
        return AccessDeniedError(action, url, f"{code}: {message}")
    if code in _THROTTLED_CODES or status in (429, 503):
        return ThrottledError(f"S3 throttled {action} on {url}: {code}: {message}")
    if code in _TRANSIENT_CODES or status >= 500:
        return TransientError(f"S3 {action} on {url} failed: {code}: {message}")
    return ServiceError("S3", code, f"{message} ({action} on {url})")
