"""Preview a table with the Python client: the first rows of a table or view, as the daemon reads them.

    cd clients/python
    SOURCED_SECRET_LOCAL_PG=... /usr/bin/python3 examples/preview.py ../../examples/postgres.json sales.orders [limit]

The data-source file is JSON or YAML in the shared format (docs/data-source.schema.json). The
daemon address comes from SOURCED_ADDRESS (default 127.0.0.1:50051). Prints the columns, then one
line per row (tab-separated; NULL for a null, *** for a masked cell), then the summary.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sourced_client import SourcedClient, SourcedError, read_data_source_file  # noqa: E402


def cell_text(cell: dict) -> str:
    """A preview cell ({"text": "a"}, {"integer": "42"}, {"null": "NULL_VALUE"}, {"masked": true}, ...) as text."""
    if not cell or "null" in cell:
        return "NULL"
    if cell.get("masked"):
        return "***"
    return str(next(iter(cell.values())))


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    source = read_data_source_file(sys.argv[1])
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    with SourcedClient() as client:
        try:
            for event in client.preview(source, sys.argv[2], limit=limit, timeout=60):
                if "header" in event:
                    print("\t".join(f"{c['name']} ({c.get('data_type', '?')})" for c in event["header"]["columns"]))
                elif "rows" in event:
                    for row in event["rows"].get("rows", []):
                        print("\t".join(cell_text(c) for c in row.get("cells", [])))
                elif "summary" in event:
                    s = event["summary"]
                    print(f"{s.get('rows', 0)} rows (limit {s.get('limit')}){', truncated' if s.get('truncated') else ''}")
        except SourcedError as error:
            print(error, file=sys.stderr)
            return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
