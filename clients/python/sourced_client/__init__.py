"""A Python client of the sourced daemon (see clients/python/README.md).

Generate the stubs first: ``clients/python/generate.sh``. Use Debian's interpreter,
``/usr/bin/python3``, with the python3-grpcio and python3-protobuf packages (or any Python with
grpcio and protobuf installed).
"""

from .client import DEFAULT_ADDRESS, SourcedClient, data_source, discover, validate
from .status import FieldViolation, SourcedError

__all__ = ["SourcedClient", "SourcedError", "FieldViolation", "validate", "discover", "data_source", "DEFAULT_ADDRESS"]
