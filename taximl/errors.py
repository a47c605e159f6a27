"""Error hierarchy: bad input, platform (AWS) failures, and our own bugs are told apart."""


class TaxiMLError(Exception):
    """Base class of every error raised on purpose by this project."""


class InvalidInputError(TaxiMLError):
    """When the caller's data or arguments are wrong (a record, a file, an option)."""


class UnsupportedFileError(InvalidInputError):
    """When a file's format or column layout is not a known TLC variant."""


class PlatformError(TaxiMLError):
    """When an AWS service (or its local stand-in) fails; the cause is kept as ``__cause__``."""
