"""The command line: ``python -m myelo_cds {assess,export-fhir,schema,verify,batch,users}``."""

from myelo_cds.cli._main import (
    main,
)

__all__ = [
    "main",
]
