"""The one exception type for bad data: missing, unreadable or inconsistent files."""


class DataError(ValueError):
    """A data set file or sample is missing, unreadable or inconsistent.

    The message always names the offending file, and, when the sample came from
    a split file, the split file and line (added by the data set).
    """
