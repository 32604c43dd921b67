"""A small client of sourced's DataSourceService (and PluginService) over grpcio.

Data sources are plain dicts in the shared data-source file format (docs/data-source.schema.json,
the shape the ``sourced`` CLI reads: ``{"type": "postgres", "primary": {...}, ...}``): the proto3
JSON of ``sourced.v1.DataSource`` (field names in ``snake_case`` or ``lowerCamelCase``), enum
values with or without their prefix (``ON_PREM``), a secret as a plain string; checked by
``data_source_file.normalize_data_source`` (an unknown field is a ``DataSourceFileError`` naming
the path and the nearest known field) and converted with ``json_format.ParseDict``.
``read_data_source_file(path)`` reads one from a JSON or YAML file. The four streaming RPCs
(validate, discover, preview, profile) are generators of events,
each a ``dict`` (``json_format.MessageToDict`` with the proto field names) or, with
``raw=True``, the protobuf message itself.

    from sourced_client import SourcedClient

    with SourcedClient("127.0.0.1:50051") as client:
        for event in client.validate({"type": "postgres", ...}, timeout=30):
            print(event)
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, Iterator, Mapping, Optional, Sequence, Tuple, Union

import grpc
from google.protobuf import json_format

_GEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen")
if not os.path.isdir(os.path.join(_GEN, "sourced", "v1")):
    raise ImportError(f"the generated stubs are missing: run clients/python/generate.sh (expected in {_GEN})")
# The generated modules import each other as `sourced.v1.*`, so their root goes on the path.
if _GEN not in sys.path:
    sys.path.insert(0, _GEN)

from sourced.v1 import data_source_pb2, data_source_service_pb2, data_source_service_pb2_grpc  # noqa: E402
from sourced.v1 import discovery_pb2, plugin_service_pb2, plugin_service_pb2_grpc, preview_pb2, profile_pb2  # noqa: E402

from .data_source_file import SCHEMA_NOTE, DataSourceFileError, normalize_data_source  # noqa: E402
from .status import SourcedError, from_rpc_error  # noqa: E402

DEFAULT_ADDRESS = "127.0.0.1:50051"
Event = Union[Dict[str, Any], Any]
Metadata = Sequence[Tuple[str, str]]


def data_source(source: Union[Mapping[str, Any], data_source_pb2.DataSource]) -> data_source_pb2.DataSource:
    """A DataSource message from a dict in the data-source file format; a message is returned as is.
    Raises ``DataSourceFileError`` (a ``ValueError``) naming every bad field, as the CLI does for a file."""
    if isinstance(source, data_source_pb2.DataSource):
        return source
    value, problems = normalize_data_source(source)
    if problems:
        lines = "\n".join(f"  {p or '(the data source)'}: {m}" for p, m in problems)
        raise DataSourceFileError(f"the data source is not valid ({SCHEMA_NOTE}):\n{lines}")
    return json_format.ParseDict(value, data_source_pb2.DataSource())


def _enum(enum_type, value: Union[str, int]) -> int:
    """An enum value from its full name (``DISCOVERY_STRATEGY_CONSERVATIVE``), its name without the
    prefix (``CONSERVATIVE``) or its number."""
    if not isinstance(value, str):
        return value
    names = enum_type.keys()
    if value in names:
        return enum_type.Value(value)
    match = [n for n in names if n.endswith("_" + value)]
    if len(match) == 1:
        return enum_type.Value(match[0])
    raise ValueError(f"{value!r} is not one of {', '.join(names)}")


def _table(table: Union[str, Mapping[str, str], Any]):
    """A TableRef from ``"schema.name"``, ``{"schema": ..., "name": ...}`` or a TableRef."""
    if isinstance(table, preview_pb2.TableRef):
        return table
    if isinstance(table, str):
        schema, dot, name = table.rpartition(".")
        return preview_pb2.TableRef(schema=schema if dot else "", name=name)
    return json_format.ParseDict(dict(table), preview_pb2.TableRef())


def _to_dict(message) -> Dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


class SourcedClient:
    """A channel to one daemon. Insecure (plaintext, loopback) unless ``credentials`` are given:
    ``grpc.ssl_channel_credentials(root_certificates=..., private_key=..., certificate_chain=...)``
    for TLS or mutual TLS; add ``grpc.access_token_call_credentials(token)`` via
    ``grpc.composite_channel_credentials`` for a bearer token or JWT."""

    def __init__(self, address: Optional[str] = None, *, credentials: Optional[grpc.ChannelCredentials] = None,
                 options: Sequence[Tuple[str, Any]] = ()):
        self.address = address or os.environ.get("SOURCED_ADDRESS") or DEFAULT_ADDRESS
        self._channel = (grpc.secure_channel(self.address, credentials, options) if credentials
                         else grpc.insecure_channel(self.address, options))
        self._data_sources = data_source_service_pb2_grpc.DataSourceServiceStub(self._channel)
        self._plugins = plugin_service_pb2_grpc.PluginServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "SourcedClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def _metadata(traceparent: Optional[str], metadata: Metadata) -> Metadata:
        md = list(metadata)
        if traceparent:
            # W3C trace context: the daemon's SERVER span continues this trace and parent span.
            md.append(("traceparent", traceparent))
        return md

    def _stream(self, method, request, traceparent, timeout, metadata, raw) -> Iterator[Event]:
        call = method(request, timeout=timeout, metadata=self._metadata(traceparent, metadata))
        try:
            for event in call:
                yield event if raw else _to_dict(event)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        finally:
            call.cancel()  # a no-op when the stream ended; stops the daemon's work when the caller broke off

    def validate(self, source, *, check_timeout_ms: int = 0, traceparent: Optional[str] = None,
                 timeout: Optional[float] = None, metadata: Metadata = (), raw: bool = False) -> Iterator[Event]:
        """ValidateDataSource: yields check_started, check_finished, report and finally summary events.

        ``timeout`` (seconds) becomes the call's gRPC deadline; the daemon stops the checks when it
        passes (and applies its own default and maximum when none is sent). A failed call raises
        ``SourcedError`` (status code, field violations, ErrorInfo reason, retry delay)."""
        request = data_source_service_pb2.ValidateDataSourceRequest(data_source=data_source(source), check_timeout_ms=check_timeout_ms)
        return self._stream(self._data_sources.ValidateDataSource, request, traceparent, timeout, metadata, raw)

    def discover(self, source, *, filter: Optional[Mapping[str, Any]] = None, strategy: Union[str, int, None] = None,
                 batch_size: int = 0, resume_after: str = "", max_entities: int = 0, max_duration_ms: int = 0,
                 sampling: Optional[Mapping[str, Any]] = None, traceparent: Optional[str] = None,
                 timeout: Optional[float] = None, metadata: Metadata = (), raw: bool = False) -> Iterator[Event]:
        """DiscoverDataSource: yields schemas, batch (relations/collections with a resumable cursor),
        warning, failover and finally summary events. ``filter``/``sampling`` are dicts in JSON form
        (``{"include_schemas": ["sales*"]}``); ``strategy`` a name such as
        ``"DISCOVERY_STRATEGY_CONSERVATIVE"`` or its number."""
        request = data_source_service_pb2.DiscoverDataSourceRequest(
            data_source=data_source(source), batch_size=batch_size, resume_after=resume_after,
            max_entities=max_entities, max_duration_ms=max_duration_ms)
        if filter:
            json_format.ParseDict(filter, request.filter)
        if sampling:
            json_format.ParseDict(sampling, request.sampling)
        if strategy is not None:
            request.strategy = _enum(discovery_pb2.DiscoveryStrategy, strategy)
        return self._stream(self._data_sources.DiscoverDataSource, request, traceparent, timeout, metadata, raw)

    def preview(self, source, table, *, columns: Sequence[str] = (), limit: int = 0, strategy: Union[str, int, None] = None,
                traceparent: Optional[str] = None, timeout: Optional[float] = None, metadata: Metadata = (),
                raw: bool = False) -> Iterator[Event]:
        """PreviewTable: yields a header (the table, its columns with their types, which are masked),
        rows events (each ``{"rows": [{"cells": [...]}, ...]}``, a cell ``{"text": ...}``,
        ``{"integer": "42"}``, ``{"null": "NULL_VALUE"}``, ``{"masked": true}``...), failover notices and
        finally a summary (rows, limit, truncated, masked_columns). ``table`` is ``"schema.name"``, a dict
        or a TableRef; ``limit`` 0 takes the daemon's default."""
        request = data_source_service_pb2.PreviewTableRequest(data_source=data_source(source), table=_table(table),
                                                              columns=list(columns), limit=limit)
        if strategy is not None:
            request.strategy = _enum(discovery_pb2.DiscoveryStrategy, strategy)
        return self._stream(self._data_sources.PreviewTable, request, traceparent, timeout, metadata, raw)

    def profile(self, source, table, *, columns: Sequence[str] = (), mode: Union[str, int, None] = None,
                sample_rows: int = 0, most_common_limit: int = 0, histogram_buckets: int = 0,
                strategy: Union[str, int, None] = None, traceparent: Optional[str] = None,
                timeout: Optional[float] = None, metadata: Metadata = (), raw: bool = False) -> Iterator[Event]:
        """ProfileTable: yields a header (the table, the mode used, the row count and whether it is exact),
        one column event per profiled column (null fraction, distinct count, min/max, most common values,
        histogram bounds; ``methods`` says how each figure was obtained: EXACT, STATISTICS or SAMPLED),
        failover notices and finally a summary (columns, masked_columns). ``mode`` is
        ``"STATISTICS"`` (the source's own statistics, cheap), ``"SAMPLE"`` (reads up to ``sample_rows``
        rows) or the full names/numbers; none lets the daemon choose."""
        request = data_source_service_pb2.ProfileTableRequest(
            data_source=data_source(source), table=_table(table), columns=list(columns), sample_rows=sample_rows,
            most_common_limit=most_common_limit, histogram_buckets=histogram_buckets)
        if mode is not None:
            request.mode = _enum(profile_pb2.ProfileMode, mode)
        if strategy is not None:
            request.strategy = _enum(discovery_pb2.DiscoveryStrategy, strategy)
        return self._stream(self._data_sources.ProfileTable, request, traceparent, timeout, metadata, raw)

    def list_plugins(self, *, timeout: Optional[float] = 10, metadata: Metadata = ()) -> Dict[str, Any]:
        """PluginService.ListPlugins as a dict."""
        try:
            return _to_dict(self._plugins.ListPlugins(plugin_service_pb2.ListPluginsRequest(), timeout=timeout, metadata=list(metadata)))
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None


def validate(source, traceparent: Optional[str] = None, *, address: Optional[str] = None, **kwargs) -> Iterator[Event]:
    """One ValidateDataSource call on its own channel: a generator of events (see SourcedClient.validate)."""
    with SourcedClient(address) as client:
        yield from client.validate(source, traceparent=traceparent, **kwargs)


def discover(source, traceparent: Optional[str] = None, *, address: Optional[str] = None, **kwargs) -> Iterator[Event]:
    """One DiscoverDataSource call on its own channel: a generator of events (see SourcedClient.discover)."""
    with SourcedClient(address) as client:
        yield from client.discover(source, traceparent=traceparent, **kwargs)


def preview(source, table, traceparent: Optional[str] = None, *, address: Optional[str] = None, **kwargs) -> Iterator[Event]:
    """One PreviewTable call on its own channel: a generator of events (see SourcedClient.preview)."""
    with SourcedClient(address) as client:
        yield from client.preview(source, table, traceparent=traceparent, **kwargs)


def profile(source, table, traceparent: Optional[str] = None, *, address: Optional[str] = None, **kwargs) -> Iterator[Event]:
    """One ProfileTable call on its own channel: a generator of events (see SourcedClient.profile)."""
    with SourcedClient(address) as client:
        yield from client.profile(source, table, traceparent=traceparent, **kwargs)


__all__ = ["SourcedClient", "SourcedError", "validate", "discover", "preview", "profile", "data_source", "DEFAULT_ADDRESS"]
