"""`robotops evaluate`, `gate` and `models` from the real entry point, on two trained runs."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ModelPair
from tests.e2e.test_cli_sim import robotops


@pytest.mark.slow
def test_register_gate_promote_and_roll_back_from_the_command_line(
    model_pair: ModelPair,
) -> None:
    ws, name = model_pair.workspace, "cli"
    common = ("--workspace", str(ws), "--config", str(model_pair.config(name)))

    def run(*args: str) -> tuple[int, str, str]:
        done = robotops(*args, *common, cwd=ws)
        return done.returncode, done.stdout, done.stderr

    code, out, err = run("models", "register", model_pair.good)
    assert code == 0, err
    assert f"registered {name}/1 (alias challenger)" in out
    assert run("models", "register", model_pair.bad)[0] == 0

    code, out, err = run("models", "promote", "1")
    assert code == 10 and "has no gate result" in err and "Traceback" not in err

    code, out, err = run("gate", f"{name}/1")
    assert code == 0, err
    assert "gate PASSED" in out and "absolute thresholds" in out
    assert (ws / "reports" / f"{name}-1" / "gate.md").is_file()
    assert run("models", "promote", "1")[0] == 0

    # The deliberately bad model against the champion: refused, naming what regressed.
    code, out, err = run("gate", f"{name}/2", "--format", "markdown")
    assert code == 10
    assert out.lstrip().startswith("## Gate REFUSED")
    assert "error: gate refused" in err and "site=" in err
    code, out, err = run("models", "promote", "2")
    assert code == 10 and f"failed its gate against the champion {name}/1" in err

    code, out, err = run("models", "promote", "2", "--force", "--reason", "field trial")
    assert code == 0 and "FORCED" in out
    code, out, err = run("models", "rollback", "--reason", "regressed at the site")
    assert code == 0 and f"{name}/1 is the champion again" in out

    code, out, err = run("models", "show")
    assert code == 0
    assert "champion: cli/1" in out
    assert "forced" in out and "field trial" in out and "rollback" in out
    code, out, err = run("models", "list")
    assert code == 0 and "champion" in out and "failed" in out

    code, out, err = run("evaluate", f"{name}@nobody")
    assert code == 4 and err.strip() == f"error: model {name} has no version with alias 'nobody'"

    # Exporting the champion tags its registry version with the bundle's hash.
    bundle = str(ws / "bundle")
    code, out, err = run(
        "export", f"{name}@champion", "--out", bundle, "--split", "val", "--no-int8", "--json"
    )
    assert code == 0, err
    digest = json.loads(out)["sha256"]
    code, out, err = run("models", "show", "1")
    assert code == 0 and digest[:16] in out.replace("\n", "")

    # With a bundle, the latency behavioural test runs on the exported model.
    code, out, err = run("evaluate", f"{name}@champion", "--json", "--no-log")
    assert code == 0, err
    evaluation = json.loads(out)
    assert evaluation["model"] == f"{name}/1" and evaluation["split"] == "val"
    assert {b["id"] for b in evaluation["behaviour"]} >= {"flip", "drop.lidar", "latency"}
    (latency,) = [b for b in evaluation["behaviour"] if b["id"] == "latency"]
    assert latency["measured"] > 0 and latency["passed"] is True
