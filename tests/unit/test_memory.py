"""keep_freed_memory(): glibc keeps a freed training-sized block in the heap instead of unmapping it."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

#: Frees a 24 MiB block and prints the heap's free bytes (glibc's mallinfo2().fordblks) and mmapped bytes.
PROBE = """
import ctypes, sys
from interest_tools.memory import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
applied = keep_freed_memory()
again = keep_freed_memory()
block = libc.malloc(24 * 1024 * 1024)
mapped = libc.mallinfo2().hblkhd
libc.free(ctypes.c_void_p(block))
print(applied, again, mapped, libc.mallinfo2().fordblks)
"""


def _probe(env: dict[str, str]) -> tuple[bool, bool, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=env, timeout=60
    ).stdout.split()
    return out[0] == "True", out[1] == "True", int(out[2]), int(out[3])


@pytest.mark.skipif(not GLIBC, reason="mallopt and mallinfo2 are glibc's")
def test_a_freed_24_mib_block_stays_in_the_heap() -> None:
    applied, again, mapped, free = _probe({"PATH": "/usr/bin:/bin"})
    assert applied and again
    assert mapped < 24 * 1024 * 1024  # served from the heap, not mmap
    assert free >= 24 * 1024 * 1024  # and kept there after free, for the next step to reuse


@pytest.mark.skipif(not GLIBC, reason="mallopt and mallinfo2 are glibc's")
@pytest.mark.parametrize(
    "env", [{"INTEREST_TOOLS_KEEP_FREED_MEMORY": "0"}, {"MALLOC_TRIM_THRESHOLD_": "131072"}], ids=["opt-out", "tuned"]
)
def test_opting_out_leaves_glibc_alone(env: dict[str, str]) -> None:
    applied, again, mapped, free = _probe({"PATH": "/usr/bin:/bin", **env})
    assert not applied and not again
    assert mapped >= 24 * 1024 * 1024  # glibc's default: a block this large is mmapped
    assert free < 24 * 1024 * 1024  # and unmapped on free
