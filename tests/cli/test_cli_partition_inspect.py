"""`vclone partition-inspect` through Typer's runner: the plan table, its figures, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_fixtures import error_line
from corpus_fixtures import TWO_CLIPS, prepare_tiny_corpus
from typer.testing import CliRunner

from vclone.cli.app import app
from vclone.parallel.timeline import Timeline

runner = CliRunner()
WIDE = {"COLUMNS": "200"}
"""A wide terminal, so that no table cell is wrapped or cut."""

pytestmark = pytest.mark.usefixtures("one_thread")


def _stage_rows(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("│")]


def test_example_batch_plan_per_stage(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    args = ["partition-inspect", "--preset", "tiny", "--stages", "3", "--micro-batches", "4", "--batch-items", "2", "--json", str(out)]
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 0, result.output
    assert "no --data: an example batch" in result.output
    rows = _stage_rows(result.output)
    assert len(rows) == 3
    assert "embed" in rows[0] and "mel_head" in rows[2]
    assert "bubble (N-1)/(M+N-1) = 2/6 = 33.3%" in result.output
    assert "N*M/(M+N-1) = 2.00x" in result.output
    assert "balance params: costliest stage / mean" in result.output
    assert "fwd+bwd" not in result.output  # not timed unless asked
    plan = json.loads(out.read_text())
    assert plan["partition"]["bounds"][0] == 0 and len(plan["partition"]["bounds"]) == 4
    assert plan["bubble"] == pytest.approx(2 / 6)


def test_profile_adds_times_and_explicit_balance_is_kept() -> None:
    args = ["partition-inspect", "--stages", "2", "--micro-batches", "2", "--batch-items", "2", "--balance", "4,7", "--profile"]
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 0, result.output
    rows = _stage_rows(result.output)
    assert len(rows) == 2 and " 4 " in rows[0] and " 7 " in rows[1]
    assert "fwd+bwd" in result.output and "ms" in rows[0]
    assert "balance explicit 4,7" in result.output


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_tiny_corpus(tmp_path_factory.mktemp("cli_partition"), TWO_CLIPS)


def test_with_prepared_data(prepared: Path) -> None:
    args = ["partition-inspect", "--data", str(prepared), "--stages", "2", "--micro-batches", "2", "--balance", "memory"]
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 0, result.output
    assert "first training batch of --data" in result.output
    assert len(_stage_rows(result.output)) == 2
    assert "balance memory" in result.output


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--stages", "0"], "must be at least 1, got 0"),
        (["--stages", "12"], "--stages 12 needs at least 12 blocks (one per stage) but preset tiny has 11 blocks"),
        (["--stages", "2", "--balance", "fast"], "--balance must be one of params, time, memory"),
        (["--stages", "2", "--balance", "3,3"], "--balance 3,3 covers 6 blocks but preset tiny has 11 blocks"),
        (["--stages", "2", "--balance", "3,3,4"], "names 3 stages but --stages is 2"),
        (["--stages", "2", "--preset", "huge"], "unknown preset 'huge'"),
        (["--stages", "2", "--remat", "sometimes"], "unknown --remat 'sometimes'"),
        (["--stages", "2", "--plot", "schedule.svg"], "--plot schedule.svg: the schedule is drawn as PNG"),
    ],
)
def test_bad_input_is_one_line(extra: list[str], needle: str) -> None:
    result = runner.invoke(app, ["partition-inspect", "--batch-items", "2", *extra])
    assert result.exit_code == 2
    assert needle in error_line(result.output)


def test_unprepared_data_folder_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["partition-inspect", "--data", str(tmp_path), "--stages", "2"])
    assert result.exit_code == 2
    assert "is not a prepared corpus" in error_line(result.output)


def _timeline_run(folder: Path, partition: dict, costs: tuple[float, float]) -> Timeline:
    """A run folder as a 2-stage pipeline run leaves it: logs/timeline.json and logs/partition.json."""
    from vclone.parallel.schedule import schedule
    from vclone.parallel.timeline import expected_timeline

    timeline = expected_timeline(schedule("gpipe", num_stages=2, num_micro_batches=3), forward_s=list(costs), backward_s=[2 * c for c in costs])
    (folder / "logs").mkdir(parents=True)
    timeline.save_json(folder / "logs" / "timeline.json")
    (folder / "logs" / "partition.json").write_text(json.dumps(partition))
    return timeline


def test_plot_without_a_timeline_draws_the_expected_schedule(tmp_path: Path) -> None:
    png = tmp_path / "plots" / "schedule.png"
    args = ["partition-inspect", "--stages", "3", "--micro-batches", "4", "--batch-items", "2", "--schedule", "1f1b", "--plot", str(png)]
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 0, result.output
    assert f"schedule plot: {png}" in result.output
    assert "measured bubble" not in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert not list(png.parent.glob("*.tmp*"))


def test_run_timeline_gives_the_measured_bubble_per_stage(tmp_path: Path) -> None:
    plan_json = tmp_path / "plan.json"
    base = ["partition-inspect", "--stages", "2", "--micro-batches", "3", "--batch-items", "2"]
    assert runner.invoke(app, [*base, "--json", str(plan_json)], env=WIDE).exit_code == 0
    partition = json.loads(plan_json.read_text())["partition"]
    timeline = _timeline_run(tmp_path / "run", partition, costs=(1.0, 3.0))
    png, out = tmp_path / "measured.png", tmp_path / "measured.json"
    result = runner.invoke(app, [*base, "--run", str(tmp_path / "run"), "--plot", str(png), "--json", str(out)], env=WIDE)
    assert result.exit_code == 0, result.output
    bubble = timeline.measured_bubble()
    assert bubble[0] > bubble[1] > 0  # the cheap stage waits on the costly one
    expected = f"stage 0 {bubble[0]:.1%}, stage 1 {bubble[1]:.1%}; theoretical 25.0%"
    assert expected in result.output and "the same partition as above" in result.output
    assert json.loads(out.read_text())["measured_bubble"] == {"0": pytest.approx(bubble[0]), "1": pytest.approx(bubble[1])}
    assert png.stat().st_size > 10_000
    other = runner.invoke(app, [*base, "--balance", "3,8", "--run", str(tmp_path / "run")], env=WIDE)
    assert other.exit_code == 0 and "its own partition: 2 stages cut at" in other.output


def test_run_without_a_timeline_and_measure_with_run_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    result = runner.invoke(app, ["partition-inspect", "--stages", "2", "--batch-items", "2", "--run", str(tmp_path / "run")])
    assert result.exit_code == 2 and "no logs/timeline.json" in error_line(result.output)
    result = runner.invoke(app, ["partition-inspect", "--stages", "2", "--measure", "--run", str(tmp_path / "run")])
    assert result.exit_code == 2 and "pass one of them" in error_line(result.output)
    png = tmp_path / "no" / "such"
    png.parent.write_text("a file where a folder should be")
    result = runner.invoke(app, ["partition-inspect", "--stages", "2", "--batch-items", "2", "--plot", str(png / "x.png")])
    assert result.exit_code == 2 and "--plot" in error_line(result.output)


@pytest.mark.distributed
def test_measure_runs_real_steps_on_local_workers(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    args = ["partition-inspect", "--stages", "2", "--micro-batches", "2", "--batch-items", "2", "--measure", "--json", str(out)]
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 0, result.output
    assert "measured bubble (3 timed steps on 2 local CPU workers): stage 0 " in result.output
    measured = json.loads(out.read_text())["measured_bubble"]
    assert set(measured) == {"0", "1"} and all(0.0 <= v < 1.0 for v in measured.values())
