"""A Python client of the sourced daemon (see clients/python/README.md).

Generate the stubs first: ``clients/python/generate.sh``. Use Debian's interpreter,
``/usr/bin/python3``, with the python3-grpcio and python3-protobuf packages (or any Python with
grpcio and protobuf installed).
"""

from .client import DEFAULT_ADDRESS, SourcedClient, data_source, discover, preview, profile, validate
from .data_source_file import DataSourceFileError, parse_data_source_text, read_data_source_file
from .status import FieldViolation, SourcedError

__all__ = ["SourcedClient", "SourcedError", "FieldViolation", "DataSourceFileError", "validate", "discover", "preview",
           "profile", "data_source", "read_data_source_file", "parse_data_source_text", "DEFAULT_ADDRESS"]
