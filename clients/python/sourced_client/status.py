"""Rich gRPC errors: google.rpc.Status and the details sourced sends with it.

sourced puts a serialized google.rpc.Status in the ``grpc-status-details-bin`` trailer of a
failed call, with any of:

* ``google.rpc.BadRequest`` (INVALID_ARGUMENT): each offending request field and why;
* ``google.rpc.ErrorInfo``: a stable ``reason`` in the domain ``sourced.dev`` and metadata;
* ``google.rpc.RetryInfo`` (RESOURCE_EXHAUSTED): how long to wait before trying again.

The usual Python way to read them is ``grpc_status.rpc_status.from_call(call)`` plus the
messages of ``googleapis-common-protos`` (pip packages ``grpcio-status`` and
``googleapis-common-protos``); Debian bookworm packages neither. So this module uses them when
they are importable and otherwise builds the four messages it needs (same names, same field
numbers as googleapis' google/rpc/status.proto and error_details.proto) in a private descriptor
pool, where they cannot clash with anyone's copy of googleapis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, duration_pb2, message_factory

STATUS_DETAILS_KEY = "grpc-status-details-bin"
BAD_REQUEST = "google.rpc.BadRequest"
ERROR_INFO = "google.rpc.ErrorInfo"
RETRY_INFO = "google.rpc.RetryInfo"


def _private_messages():
    """google.rpc.Status, BadRequest, ErrorInfo and RetryInfo as message classes."""
    try:  # googleapis-common-protos, when installed
        from google.rpc import error_details_pb2, status_pb2  # type: ignore

        return status_pb2.Status, error_details_pb2.BadRequest, error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo
    except ImportError:
        pass
    from google.protobuf import any_pb2

    pool = descriptor_pool.DescriptorPool()
    for wkt in (any_pb2, duration_pb2):
        fdp = descriptor_pb2.FileDescriptorProto()
        wkt.DESCRIPTOR.CopyToProto(fdp)
        pool.Add(fdp)

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="sourced_client/google_rpc_subset.proto",
        package="google.rpc",
        syntax="proto3",
        dependency=["google/protobuf/any.proto", "google/protobuf/duration.proto"],
    )

    def message(name: str, fields: Sequence[Tuple[str, int, int, int, str]]) -> descriptor_pb2.DescriptorProto:
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
        return m

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message("Status", [("code", 1, F.TYPE_INT32, opt, ""), ("message", 2, F.TYPE_STRING, opt, ""),
                       ("details", 3, F.TYPE_MESSAGE, rep, ".google.protobuf.Any")])
    bad = message("BadRequest", [("field_violations", 1, F.TYPE_MESSAGE, rep, ".google.rpc.BadRequest.FieldViolation")])
    fv = bad.nested_type.add(name="FieldViolation")
    fv.field.add(name="field", number=1, type=F.TYPE_STRING, label=opt)
    fv.field.add(name="description", number=2, type=F.TYPE_STRING, label=opt)
    fv.field.add(name="reason", number=3, type=F.TYPE_STRING, label=opt)
    info = message("ErrorInfo", [("reason", 1, F.TYPE_STRING, opt, ""), ("domain", 2, F.TYPE_STRING, opt, ""),
                                 ("metadata", 3, F.TYPE_MESSAGE, rep, ".google.rpc.ErrorInfo.MetadataEntry")])
    entry = info.nested_type.add(name="MetadataEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=opt)
    entry.field.add(name="value", number=2, type=F.TYPE_STRING, label=opt)
    message("RetryInfo", [("retry_delay", 1, F.TYPE_MESSAGE, opt, ".google.protobuf.Duration")])
    pool.Add(fdp)

    get_class = getattr(message_factory, "GetMessageClass", None)  # protobuf >= 4.22
    if get_class is None:
        factory = message_factory.MessageFactory(pool)
        get_class = factory.GetPrototype
    return tuple(get_class(pool.FindMessageTypeByName(f"google.rpc.{n}")) for n in ("Status", "BadRequest", "ErrorInfo", "RetryInfo"))


Status, BadRequest, ErrorInfo, RetryInfo = _private_messages()


@dataclass
class FieldViolation:
    field: str
    description: str


@dataclass(eq=False)
class SourcedError(Exception):
    """A failed sourced call: the gRPC status and its decoded details."""

    code: grpc.StatusCode
    message: str
    field_violations: List[FieldViolation] = field(default_factory=list)
    reason: Optional[str] = None
    domain: Optional[str] = None
    metadata: Dict[str, str] = field(default_factory=dict)
    retry_delay_seconds: Optional[float] = None

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        if self.reason:
            text += f" [{self.reason}]"
        for v in self.field_violations:
            text += f"\n  {v.field}: {v.description}"
        return text

    def to_dict(self) -> dict:
        return {
            "code": self.code.name,
            "message": self.message,
            "field_violations": [{"field": v.field, "description": v.description} for v in self.field_violations],
            "reason": self.reason,
            "domain": self.domain,
            "metadata": self.metadata,
            "retry_delay_seconds": self.retry_delay_seconds,
        }


def _type_name(type_url: str) -> str:
    return type_url.rsplit("/", 1)[-1]


def from_rpc_error(error: grpc.RpcError) -> SourcedError:
    """Turns a grpc.RpcError (a failed call) into a SourcedError with its rich details."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = error.details() if hasattr(error, "details") else str(error)
    out = SourcedError(code=code, message=message or "")
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    raw = next((v for k, v in (trailers or ()) if k == STATUS_DETAILS_KEY), None)
    if raw is None:
        return out
    status = Status.FromString(raw)
    out.message = status.message or out.message
    for detail in status.details:
        name = _type_name(detail.type_url)
        if name == BAD_REQUEST:
            out.field_violations = [FieldViolation(v.field, v.description) for v in BadRequest.FromString(detail.value).field_violations]
        elif name == ERROR_INFO:
            info = ErrorInfo.FromString(detail.value)
            out.reason, out.domain, out.metadata = info.reason, info.domain, dict(info.metadata)
        elif name == RETRY_INFO:
            delay = RetryInfo.FromString(detail.value).retry_delay
            out.retry_delay_seconds = delay.seconds + delay.nanos / 1e9
    return out
