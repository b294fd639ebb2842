"""Every error crosses a process boundary whole: pickling keeps its class, message, data
and exit code (errors raised in worker processes reach the command as themselves)."""

from __future__ import annotations

import inspect
import pickle
from typing import Any

import pytest

import ddbpipe.errors as errors
from ddbpipe.cli.errors import exit_code_for
from ddbpipe.errors import DdbpipeError, ResumePoint, TableOutcome

# One instance of every class the tree draws, made as the library makes them.
EXAMPLES: list[DdbpipeError] = [
    errors.DdbpipeError("something"),
    errors.ConfigError(["first problem", "second problem"]),
    errors.EndpointUnreachableError("DynamoDB", "http://127.0.0.1:1/", "connection refused"),
    errors.RetriableError("again"),
    errors.ThrottledError("slow down"),
    errors.TransientError("HTTP 500"),
    errors.FatalError("cannot go on"),
    errors.NotFoundError("not found: x"),
    errors.TableNotFoundError("orders", "eu-west-1"),
    errors.BucketNotFoundError("my-bucket"),
    errors.AccessDeniedError("dynamodb:Scan", "orders", "not authorized"),
    errors.AlreadyExistsError("s3://b/f already exists"),
    errors.KeySchemaMismatchError("keys differ"),
    errors.NotABackupError("not a backup"),
    errors.SeveralExportsError("several", root_url="s3://b/AWSDynamoDB", exports=["a", "b"]),
    errors.InterruptedExportError("did not finish", folder="/tmp/run", resumable=True),
    errors.RetriesExhaustedError("still failing"),
    errors.WorkerLostError("a worker process died"),
    errors.ServiceError("DynamoDB", "ValidationException", "bad request", operation="Scan"),
    errors.PipelineInvalidError({"Schedule": ["INVALID_FIELD_VALUE: 'period' ..."]}, {"": ["w"]}),
    errors.PipelineNotFoundError("df-0123456789ABCDEFGHIJ", deleted=True),
    errors.PipelineBusyError("df-0123456789ABCDEFGHIJ", "runner-1", "host-a", 4242),
    errors.DataError("bad line", source="s3://b/part", line=7),
    errors.ItemError("item too large", source="part", line=2),
    errors.ItemRejectedError("DynamoDB refused the item", source="part", line=3),
    errors.JobSignal("stopped"),
    errors.CancelledError("the job was cancelled"),
    errors.PausedError("export stopped", ResumePoint("export", "/tmp/run", "orders", 1200)),
]


def test_every_class_of_the_tree_has_an_example() -> None:
    classes = {
        value
        for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, DdbpipeError)
    }
    assert classes == {type(e) for e in EXAMPLES}


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: type(e).__name__)
def test_errors_round_trip_through_pickle(error: DdbpipeError) -> None:
    error.tables = (TableOutcome("orders", "failed", reason="why"),)
    error.remote_traceback = "Traceback (most recent call last): ..."
    error.add_note("a note")
    copy: Any = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert vars(copy) == vars(error)
    assert exit_code_for(copy) == exit_code_for(error)
    assert copy.transient == error.transient


def test_a_bucket_error_names_the_bucket_once() -> None:
    copy = pickle.loads(pickle.dumps(errors.BucketNotFoundError("my-bucket")))
    assert str(copy) == "bucket 'my-bucket' does not exist"
    assert copy.bucket == "my-bucket"


def test_transient_tells_what_a_later_try_can_fix() -> None:
    transient = {type(e).__name__ for e in EXAMPLES if e.transient}
    assert transient == {
        "RetriableError",
        "ThrottledError",
        "TransientError",
        "RetriesExhaustedError",
        "WorkerLostError",
    }
