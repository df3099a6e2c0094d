"""The benchmarks still run: each module's ``figures(quick=True)`` (tiny inputs, the real code
paths) returns figures with every field set, and the suite runner prints its table. Timings are
never asserted: benchmarks report, ``make bench`` is where the figures are read."""

from __future__ import annotations

import math

import pytest

from benchmarks import __main__ as runner
from benchmarks.common import Figure

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("benchmark", runner.BENCHMARKS, ids=lambda b: b.module)
def test_each_benchmark_reports_figures(benchmark: runner.Benchmark) -> None:
    module = runner.load(benchmark)
    assert module is not None, f"benchmarks/{benchmark.module}.py is missing"
    figures = runner.run(module, True, benchmark.groups)
    assert figures, f"{benchmark.module} reported no figures"
    assert {f.group for f in figures} == set(benchmark.groups)
    for figure in figures:
        assert isinstance(figure, Figure)
        assert figure.name, figure
        assert figure.unit, figure
        assert isinstance(figure.value, float | int), figure
        assert math.isfinite(figure.value), figure
        # A target comes with its verdict, and only then.
        assert (figure.target is None) == (figure.met is None), figure
        assert figure.spread is None or figure.spread.strip(), figure
    names = [f.name for f in figures]
    assert len(names) == len(set(names)), "figures must be told apart by their names"


def test_the_runner_prints_one_table_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.main(["--quick", "--only", "reports"]) == 0
    out = capsys.readouterr().out
    assert "reports" in out
    assert "targets met" in out
    assert out.count("group  ") == 1  # one table


def test_a_crashing_benchmark_makes_the_runner_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import report_bench

    def crash(quick: bool) -> list[Figure]:
        raise RuntimeError("boom")

    monkeypatch.setattr(report_bench, "figures", crash)
    assert runner.main(["--quick", "--only", "reports"]) == 1
    captured = capsys.readouterr()
    assert "report_bench: CRASHED" in captured.out
    assert "RuntimeError: boom" in captured.err
