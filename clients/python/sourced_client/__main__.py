"""Command-line example: python3 -m sourced_client {validate,discover,plugins} [source.json]

    cd clients/python
    /usr/bin/python3 -m sourced_client validate source.json
    /usr/bin/python3 -m sourced_client discover source.json --include-schema 'sales*' --batch-size 50
    /usr/bin/python3 -m sourced_client validate - < source.json        # the data source on stdin

Prints one JSON object per event. The source file holds a sourced.v1.DataSource in its proto3
JSON form, or a whole request with it under "data_source". Exit codes as the `sourced` CLI:
0 ok, 1 validation failed, 2 bad input, 3 daemon unreachable, 4 other error.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys

import grpc
from google.protobuf import json_format

from . import DEFAULT_ADDRESS, SourcedClient, SourcedError


def _load(path: str) -> dict:
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    doc = json.loads(text)
    return doc.get("data_source", doc.get("dataSource", doc))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sourced_client", description="Call a sourced daemon.")
    parser.add_argument("--address", default=os.environ.get("SOURCED_ADDRESS", DEFAULT_ADDRESS))
    parser.add_argument("--timeout", type=float, default=None, help="call deadline in seconds")
    parser.add_argument("--traceparent", default=None,
                        help="W3C traceparent to continue (default: a new random trace, printed to stderr)")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate")
    v.add_argument("source")
    v.add_argument("--check-timeout-ms", type=int, default=0)
    d = sub.add_parser("discover")
    d.add_argument("source")
    d.add_argument("--include-schema", action="append", default=[])
    d.add_argument("--exclude-schema", action="append", default=[])
    d.add_argument("--include-table", action="append", default=[])
    d.add_argument("--exclude-table", action="append", default=[])
    d.add_argument("--strategy", default=None, help="e.g. DISCOVERY_STRATEGY_CONSERVATIVE")
    d.add_argument("--batch-size", type=int, default=0)
    d.add_argument("--resume-after", default="")
    sub.add_parser("plugins")
    args = parser.parse_args(argv)

    traceparent = args.traceparent or f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    try:
        with SourcedClient(args.address) as client:
            if args.command == "plugins":
                print(json.dumps(client.list_plugins(timeout=args.timeout or 10)))
                return 0
            print(f"traceparent: {traceparent}", file=sys.stderr)
            source = _load(args.source)
            if args.command == "validate":
                events = client.validate(source, check_timeout_ms=args.check_timeout_ms, traceparent=traceparent, timeout=args.timeout)
            else:
                flt = {"include_schemas": args.include_schema, "exclude_schemas": args.exclude_schema,
                       "include_tables": args.include_table, "exclude_tables": args.exclude_table}
                events = client.discover(source, filter=flt, strategy=args.strategy, batch_size=args.batch_size,
                                         resume_after=args.resume_after, traceparent=traceparent, timeout=args.timeout)
            ok = True
            for event in events:
                print(json.dumps(event), flush=True)
                if "summary" in event and args.command == "validate":
                    ok = bool(event["summary"].get("ok", False))
            return 0 if ok else 1
    except (OSError, ValueError, json_format.ParseError) as error:  # unreadable file, bad JSON, unknown field (json_format.ParseError)
        print(f"bad input: {error}", file=sys.stderr)
        return 2
    except SourcedError as error:
        print(json.dumps({"error": error.to_dict()}), file=sys.stderr)
        if error.code == grpc.StatusCode.INVALID_ARGUMENT:
            return 2
        return 3 if error.code == grpc.StatusCode.UNAVAILABLE else 4


if __name__ == "__main__":
    sys.exit(main())
