"""The footprint benchmark's measurements: a cold import, and memory per idle session."""

from __future__ import annotations

from benchmarks.bench_footprint import _cold, _memory_rows


def test_cold_import_reports_wall_and_cpu_seconds() -> None:
    result = _cold(["import", "aether"])
    assert set(result) == {"import_s", "cpu_s"}
    assert 0 < result["import_s"] < 30
    assert 0 < result["cpu_s"] < 30


def test_memory_per_session_grows_with_a_turn_and_shrinks_without_session_objects() -> None:
    rows = _memory_rows(200)
    opened, turned, stored = (row.value for row in rows)
    assert [row.unit for row in rows] == ["bytes"] * 3
    # A turn stores a user and an assistant message (each several hundred bytes).
    assert 0 < opened < turned
    assert 0 < stored < turned
    assert turned - opened > 500
