"""Profile a table with the Python client: per column, the share of nulls, distinct values, min and max.

    cd clients/python
    SOURCED_SECRET_LOCAL_PG=... /usr/bin/python3 examples/profile.py ../../examples/postgres.json sales.orders [STATISTICS|SAMPLE]

The data-source file is JSON or YAML in the shared format (docs/data-source.schema.json). The
daemon address comes from SOURCED_ADDRESS (default 127.0.0.1:50051). Without a mode the daemon
chooses. Each figure says how it was obtained (EXACT, STATISTICS or SAMPLED, from `methods`):
only EXACT figures are exact, the others are estimates.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sourced_client import SourcedClient, SourcedError, read_data_source_file  # noqa: E402


def number(value) -> str:
    """A figure as text: 2000 for 2000.0 (the contract's doubles), '?' when absent."""
    if value is None:
        return "?"
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def method(column: dict, figure: str) -> str:
    return column.get("methods", {}).get(figure, "FIGURE_METHOD_UNSPECIFIED").replace("FIGURE_METHOD_", "").lower()


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    source = read_data_source_file(sys.argv[1])
    mode = sys.argv[3] if len(sys.argv) > 3 else None
    with SourcedClient() as client:
        try:
            for event in client.profile(source, sys.argv[2], mode=mode, sample_rows=10000, timeout=120):
                if "header" in event:
                    h = event["header"]
                    exact = "exact" if h.get("row_count_exact") else "estimate"
                    print(f"{h['table'].get('schema', '')}.{h['table']['name']}: {number(h.get('row_count'))} rows ({exact}), mode {h.get('mode')}")
                elif "column" in event:
                    c = event["column"]
                    print(f"  {c['name']} ({c.get('data_type', '?')}): nulls {number(c.get('null_fraction'))} ({method(c, 'null_fraction')}),"
                          f" distinct {number(c.get('distinct_count'))} ({method(c, 'distinct_count')})")
                elif "summary" in event:
                    print(f"{event['summary'].get('columns', 0)} columns profiled")
        except SourcedError as error:
            print(error, file=sys.stderr)
            return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
