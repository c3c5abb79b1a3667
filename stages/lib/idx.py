"""The IDX format of the canonical MNIST files (LeCun, Cortes and Burges), gzip-compressed or not.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
each dimension as a big-endian 32-bit integer, then the values, big-endian, in C order.
"""
import gzip
import zlib
from pathlib import Path

import numpy as np

from stages.lib.errors import PipelineError

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def content(path: Path) -> bytes:
    """The file's bytes, decompressed when it is gzip-compressed (whatever its name)."""
    data = Path(path).read_bytes()
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise PipelineError(f"{path} is a damaged gzip file ({error}): replace it with a good copy") from None


def parse(data: bytes, name: str) -> np.ndarray:
    """The array an IDX file's content holds, in native byte order; `name` is for the error messages."""
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _TYPES:
        raise PipelineError(f"{name} is not an IDX file (it does not start with an IDX magic number): "
                            "give the canonical MNIST files")
    header = 4 + 4 * data[3]
    if len(data) < header:
        raise PipelineError(f"{name} ends inside its header ({len(data)} bytes): the file is truncated; "
                            "replace it with a good copy")
    shape = tuple(int.from_bytes(data[k:k + 4], "big") for k in range(4, header, 4))
    dtype = np.dtype(_TYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise PipelineError(f"{name} holds {len(data)} bytes, not the {expected} its header declares "
                            f"({'x'.join(map(str, shape))} values of {dtype.name}): the file is truncated or damaged; "
                            "replace it with a good copy")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))

