"""A short clinic list is evaluated in the main process; a long one by at most one worker per range.

Starting a pool costs more than a short list takes (issue 17: a 1-row batch took 0.55-0.68 s,
mostly start-up and worker spawning), and a list that fits one byte range could not be shared
between workers anyway.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from bench.generate import generate_cases, write_csv, write_jsonl
from myelo_cds.batch import _rows as batch
from myelo_cds.batch import run_batch

ON = dt.date(2026, 1, 15)


class _Pools:
    """Records the size of every pool the batch starts, and starts it for real."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def get_context(self, method: str) -> Any:
        context = multiprocessing.get_context(method)
        sizes = self.sizes

        class Recording:
            def Pool(self, processes: int) -> Any:  # the name multiprocessing gives it
                sizes.append(processes)
                return context.Pool(processes)

        return Recording()


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> _Pools:
    recorder = _Pools()
    monkeypatch.setattr(batch, "multiprocessing", recorder)
    return recorder


def _write(path: Path, count: int, seed: int) -> Path:
    if path.suffix == ".csv":
        write_csv(count, seed, path)
    else:
        write_jsonl(generate_cases(count, seed=seed), path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_list_that_fits_one_range_starts_no_worker(tmp_path: Path, pools: _Pools, suffix: str) -> None:
    source = _write(tmp_path / f"clinic{suffix}", 50, seed=5)
    assert source.stat().st_size < batch._CHUNK_BYTES
    run_batch(source, tmp_path / f"out{suffix}", workers=2, on=ON)
    assert pools.sizes == []
    run_batch(source, tmp_path / f"one{suffix}", workers=1, on=ON)
    assert (tmp_path / f"out{suffix}").read_bytes() == (tmp_path / f"one{suffix}").read_bytes()


def test_a_longer_list_gets_no_more_workers_than_ranges(
    tmp_path: Path, pools: _Pools, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _write(tmp_path / "clinic.csv", 60, seed=6)
    header_bytes = source.read_bytes().index(b"\n") + 1
    monkeypatch.setattr(batch, "_CSV_CHUNK_BYTES", (source.stat().st_size - header_bytes) // 2 + 1)
    run_batch(source, tmp_path / "two.csv", workers=8, on=ON)  # two ranges
    monkeypatch.setattr(batch, "_CSV_CHUNK_BYTES", 200)
    run_batch(source, tmp_path / "many.csv", workers=2, on=ON)  # one range a row
    assert pools.sizes == [2, 2]
    run_batch(source, tmp_path / "here.csv", workers=1, on=ON)
    assert pools.sizes == [2, 2]
    expected = (tmp_path / "here.csv").read_bytes()
    assert (tmp_path / "two.csv").read_bytes() == expected
    assert (tmp_path / "many.csv").read_bytes() == expected
