"""drop_page_cache really takes a file's pages out of the page cache (mincore says so)."""

from __future__ import annotations

import ctypes
import gc
import mmap
import os
from pathlib import Path

import numpy as np
import pytest

from edge_agent.runtime.interpreter import TFLiteModel
from edge_agent.runtime.page_cache import drop_page_cache

FACES = Path(__file__).resolve().parents[2] / "models" / "faces"
PAGE = mmap.PAGESIZE


def _resident_fraction(path: Path) -> float:
    """Share of ``path``'s pages in the page cache (mincore on a fresh, untouched mapping)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    size = path.stat().st_size
    pages = (size + PAGE - 1) // PAGE
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        assert addr not in (None, ctypes.c_void_p(-1).value)
        try:
            vec = (ctypes.c_ubyte * pages)()
            assert libc.mincore(addr, size, vec) == 0, os.strerror(ctypes.get_errno())
            return sum(b & 1 for b in vec) / pages
        finally:
            libc.munmap(addr, size)
    finally:
        os.close(fd)


def _on_tmpfs(path: Path) -> bool:
    best, fstype = "", ""
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, mount, kind, *_ = line.split()
        if str(path).startswith(mount) and len(mount) > len(best):
            best, fstype = mount, kind
    return fstype in {"tmpfs", "ramfs"}


@pytest.fixture
def cached_file(tmp_path: Path) -> Path:
    if _on_tmpfs(tmp_path):
        pytest.skip("tmp_path is on tmpfs: its pages are memory, not cache")
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(4 << 20))
    with path.open("rb") as fh:
        os.fsync(fh.fileno())
        fh.read()
    assert _resident_fraction(path) > 0.9
    return path


def test_drops_a_read_file_from_the_page_cache(cached_file: Path) -> None:
    assert drop_page_cache([cached_file]) == 1
    assert _resident_fraction(cached_file) < 0.05


def test_sync_drops_a_file_written_moments_ago(tmp_path: Path) -> None:
    if _on_tmpfs(tmp_path):
        pytest.skip("tmp_path is on tmpfs")
    path = tmp_path / "fresh.bin"
    path.write_bytes(os.urandom(4 << 20))  # dirty: not yet written back
    assert drop_page_cache([path], sync=True) == 1
    assert _resident_fraction(path) < 0.05


def test_leaves_pages_another_mapping_uses(cached_file: Path) -> None:
    with cached_file.open("rb") as fh, mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ) as mapped:
        touched = sum(mapped[i] for i in range(0, len(mapped), PAGE))
        drop_page_cache([cached_file])
        assert _resident_fraction(cached_file) > 0.9, touched


def test_missing_file_is_skipped_not_an_error(tmp_path: Path) -> None:
    assert drop_page_cache([tmp_path / "gone.tflite"]) == 0


def test_closing_a_model_hands_its_file_pages_back(tmp_path: Path) -> None:
    if _on_tmpfs(tmp_path):
        pytest.skip("tmp_path is on tmpfs")
    path = tmp_path / "model.tflite"
    path.write_bytes((FACES / "face_detection_full_range_int8.tflite").read_bytes())
    drop_page_cache([path], sync=True)
    model = TFLiteModel(path, num_threads=1, family="faces", variant="full-int8")
    spec = model.inputs[0]
    model.set_raw_input(0, np.zeros(spec.shape, spec.dtype))
    model.invoke()
    assert _resident_fraction(path) > 0.5  # mapped and read by the interpreter
    model.close()
    del model
    gc.collect()
    assert _resident_fraction(path) < 0.05
