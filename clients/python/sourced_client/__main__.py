"""Command-line example: python3 -m sourced_client {validate,discover,preview,profile,check,plugins} [file]

    cd clients/python
    /usr/bin/python3 -m sourced_client validate ../../examples/postgres.json
    /usr/bin/python3 -m sourced_client discover source.yaml --include-schema 'sales*' --batch-size 50
    /usr/bin/python3 -m sourced_client preview source.json sales.orders --limit 5
    /usr/bin/python3 -m sourced_client profile source.json sales.orders --mode SAMPLE --sample-rows 1000
    /usr/bin/python3 -m sourced_client check source.yaml                # read the file only, print its contract JSON
    /usr/bin/python3 -m sourced_client validate - < source.json        # the data source on stdin

Prints one JSON object per event. The file is a data source in the shared file format
(docs/data-source.schema.json, as the `sourced` CLI reads it): JSON or YAML, optionally under
"data_source"; an unknown field is refused naming its path and the nearest known field. Exit
codes as the `sourced` CLI: 0 ok, 1 validation failed, 2 bad input, 3 daemon unreachable, 4 other error.
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
from .data_source_file import read_data_source_file


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
    p = sub.add_parser("preview")
    p.add_argument("source")
    p.add_argument("table", help="schema.name")
    p.add_argument("--column", action="append", default=[])
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--strategy", default=None)
    f = sub.add_parser("profile")
    f.add_argument("source")
    f.add_argument("table", help="schema.name")
    f.add_argument("--column", action="append", default=[])
    f.add_argument("--mode", default=None, help="STATISTICS or SAMPLE")
    f.add_argument("--sample-rows", type=int, default=0)
    f.add_argument("--strategy", default=None)
    c = sub.add_parser("check", help="read data-source files and print each in the contract's JSON")
    c.add_argument("files", nargs="+")
    sub.add_parser("plugins")
    args = parser.parse_args(argv)

    traceparent = args.traceparent or f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    if args.command == "check":
        try:
            for path in args.files:
                print(json.dumps(read_data_source_file(path)))
            return 0
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
    try:
        with SourcedClient(args.address) as client:
            if args.command == "plugins":
                print(json.dumps(client.list_plugins(timeout=args.timeout or 10)))
                return 0
            source = read_data_source_file(args.source)  # a bad file fails here, before any call (exit 2)
            print(f"traceparent: {traceparent}", file=sys.stderr)
            if args.command == "validate":
                events = client.validate(source, check_timeout_ms=args.check_timeout_ms, traceparent=traceparent, timeout=args.timeout)
            elif args.command == "preview":
                events = client.preview(source, args.table, columns=args.column, limit=args.limit, strategy=args.strategy,
                                        traceparent=traceparent, timeout=args.timeout)
            elif args.command == "profile":
                events = client.profile(source, args.table, columns=args.column, mode=args.mode, sample_rows=args.sample_rows,
                                        strategy=args.strategy, traceparent=traceparent, timeout=args.timeout)
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
    except (OSError, ValueError, json_format.ParseError) as error:  # unreadable or invalid file (DataSourceFileError)
        print(f"bad input: {error}", file=sys.stderr)
        return 2
    except SourcedError as error:
        print(json.dumps({"error": error.to_dict()}), file=sys.stderr)
        if error.code == grpc.StatusCode.INVALID_ARGUMENT:
            return 2
        return 3 if error.code == grpc.StatusCode.UNAVAILABLE else 4


if __name__ == "__main__":
    sys.exit(main())
