"""Smoke test of the Python client against a running daemon (test/e2e/python.test.ts runs it).

Reads {"address": "127.0.0.1:PORT", "data_source": {...}} from stdin (so a password never
shows in the process list), then calls, all under one made-up W3C trace:

1. ValidateDataSource on the data source,
2. DiscoverDataSource on it,
3. PreviewTable (limit 3) and ProfileTable (STATISTICS) of the request's "table" ("schema.name"),
   when it has one,
4. ValidateDataSource on a copy without a host, which must fail with INVALID_ARGUMENT and a
   google.rpc.BadRequest naming the field.

The data source is in the shared file format (a short enum name such as "ON_PREM" works).

Prints one JSON object per line: {"traceparent": ...}, {"call": ..., "event": ...} for every
event, {"call": ..., "error": ...} for a failure, and {"done": true} at the end.

    /usr/bin/python3 clients/python/examples/smoke.py < request.json
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sourced_client import SourcedClient, SourcedError  # noqa: E402

# A fixed trace id and parent span id, so the caller can find the daemon's spans of this run.
TRACE_ID = "5ce0e9a56015fec5aadfa328ae398115"
PARENT_SPAN_ID = "ab54a98ceb1f0ad2"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


def emit(obj) -> None:
    print(json.dumps(obj), flush=True)


def main() -> int:
    request = json.load(sys.stdin)
    source = request["data_source"]
    emit({"traceparent": TRACEPARENT})
    with SourcedClient(request["address"]) as client:
        for event in client.validate(source, traceparent=TRACEPARENT, timeout=30):
            emit({"call": "validate", "event": event})
        for event in client.discover(source, traceparent=TRACEPARENT, timeout=60, batch_size=5):
            emit({"call": "discover", "event": event})
        if request.get("table"):
            for event in client.preview(source, request["table"], limit=3, traceparent=TRACEPARENT, timeout=60):
                emit({"call": "preview", "event": event})
            for event in client.profile(source, request["table"], mode="STATISTICS", traceparent=TRACEPARENT, timeout=60):
                emit({"call": "profile", "event": event})
        broken = {**source, "primary": {k: v for k, v in source["primary"].items() if k != "host"}}
        try:
            for event in client.validate(broken, traceparent=TRACEPARENT, timeout=30):
                emit({"call": "invalid", "event": event})
        except SourcedError as error:
            emit({"call": "invalid", "error": error.to_dict()})
    emit({"done": True})
    return 0


if __name__ == "__main__":
    sys.exit(main())
