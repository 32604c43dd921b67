"""A small client of sourced's DataSourceService (and PluginService) over grpcio.

Data sources are plain dicts in the proto3 JSON form of ``sourced.v1.DataSource`` (the shape
``buf curl`` and the ``sourced`` CLI take: ``{"type": "postgres", "primary": {...}, ...}``;
field names in either ``snake_case`` or ``lowerCamelCase``), converted with
``google.protobuf.json_format.ParseDict``. Both streaming RPCs are generators of events,
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
from sourced.v1 import discovery_pb2, plugin_service_pb2, plugin_service_pb2_grpc  # noqa: E402

from .status import SourcedError, from_rpc_error  # noqa: E402

DEFAULT_ADDRESS = "127.0.0.1:50051"
Event = Union[Dict[str, Any], Any]
Metadata = Sequence[Tuple[str, str]]


def data_source(source: Union[Mapping[str, Any], data_source_pb2.DataSource]) -> data_source_pb2.DataSource:
    """A DataSource message from its proto3 JSON form (a dict); a message is returned as is."""
    if isinstance(source, data_source_pb2.DataSource):
        return source
    return json_format.ParseDict(source, data_source_pb2.DataSource())


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
            request.strategy = discovery_pb2.DiscoveryStrategy.Value(strategy) if isinstance(strategy, str) else strategy
        return self._stream(self._data_sources.DiscoverDataSource, request, traceparent, timeout, metadata, raw)

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


__all__ = ["SourcedClient", "SourcedError", "validate", "discover", "data_source", "DEFAULT_ADDRESS"]
