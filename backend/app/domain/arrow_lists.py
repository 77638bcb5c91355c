"""Python lists as Arrow columns, built from buffers in C loops, without pandas.

``pa.array`` on any Python object (a list, a numpy array) makes pyarrow import pandas
first (~0.2 s and ~40 MB resident, the first time in a process), which a write of a
few hundred thousand rows cannot hide. Arrow arrays made from their buffers never
ask: a string column is its UTF-8 bytes joined and the offsets of each value, an
integer column its numpy buffer. Callers pass lists whose values are exactly ``str``
or exactly ``int`` (``sales_columns`` checks this first).
"""

from __future__ import annotations

from typing import Any

_INT32_MAX = 2**31 - 1


def string_column(values: list[str]) -> Any:
    """An Arrow string column of ``values``; ValueError for text that is not valid
    Unicode (a lone surrogate) or a column of 2 GB or more."""
    import numpy as np
    import pyarrow as pa

    joined = "".join(values)
    if joined.isascii():  # one byte per character: the lengths are the str lengths
        data = joined.encode("ascii")
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    else:
        try:
            encoded = [value.encode("utf-8") for value in values]
        except UnicodeEncodeError as error:
            raise ValueError(str(error)) from None
        data = b"".join(encoded)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(values))
    if len(data) > _INT32_MAX:
        raise ValueError("a string column of 2 GB or more")
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:], dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def int64_column(values: list[int]) -> Any:
    """An Arrow int64 column of ``values``; OverflowError for a value beyond 64 bits."""
    import numpy as np
    import pyarrow as pa

    numbers = np.fromiter(values, dtype=np.int64, count=len(values))
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(numbers)])
