"""The command line: help, one-line errors for user mistakes, the bench report."""

import json
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import as_from_a_terminal, posetrack_cli, posetrack_command, posetrack_here

from posetrack.models import DEMO_POSE


def test_console_script_help_and_version():
    started = time.perf_counter()
    out = subprocess.run(["posetrack", "--help"], capture_output=True, text=True, timeout=60)
    took = time.perf_counter() - started
    assert out.returncode == 0
    for command in ("run", "demo", "models", "export", "bench"):
        assert command in out.stdout
    assert took < 5, f"--help took {took:.1f} s"  # no network library imported to answer it (0.6 s here)
    version = subprocess.run(["posetrack", "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("posetrack 0.")


def test_every_command_s_help_shows_examples_and_wraps_its_description():
    from posetrack.cli.parser import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps the subcommands there
    for name, command in commands.items():
        text = command.format_help()
        assert "example" in text, f"posetrack {name} --help has no examples"
        assert max(len(line) for line in text.splitlines()) <= 160, f"posetrack {name} --help is not wrapped"


def _one_line_error(result, *fragments):
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert re.match(r"posetrack( \w+)?: error: ", lines[-1]) or lines[0].startswith("usage:")
    for fragment in fragments:
        assert fragment in lines[-1]


def test_missing_weights(tmp_path):
    r = posetrack_cli("export", "--pose-model", str(tmp_path / "missing.pth"), "--out", str(tmp_path / "x.onnx"))
    _one_line_error(r, "missing.pth", "not found")
    assert len(r.stderr.strip().splitlines()) == 1


def test_corrupt_weights(tmp_path):
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint at all")
    r = posetrack_cli("export", "--pose-model", str(bad), "--out", str(tmp_path / "x.onnx"))
    _one_line_error(r, "broken.pth", "not a PyTorch checkpoint")


@pytest.mark.parametrize("args,fragment", [
    (["export", "--pose-input", "250x192"], "multiples of 32"),
    (["export", "--pose-input", "big"], "HEIGHTxWIDTH"),
    (["export", "--weights", "w.pth"], "unrecognized option --weights; it is --pose-model now"),
    (["run", "v.mp4", "--detect-evry", "3"], "did you mean --detect-every?"),
    (["rnu", "v.mp4"], "no command 'rnu'; did you mean run?"),
    (["models", "info", "hrnet_w32_posetrack"], "unknown model 'hrnet_w32_posetrack'; did you mean hrnet_w32_posetrack18_"),
    (["models", "info", "rtmdet_nano"], "did you mean rtmdet_nano_person"),
    (["run", "v.mp4", "--detect-every", "0"], "--detect-every: must be at least 1, got '0'"),
    (["bench", "--backends", "torch,cuda"], "choose from"),
    (["bench", "--batches", "0"], "positive integers"),
    (["bench", "--device", "tpu"], "--device tpu: use cpu, cuda, cuda:N or N"),
    (["bench", "--device", "cuda", "--quick"], "--device cuda: no such CUDA device"),
    (["export", "--device", "cuda:x"], "use cpu, cuda, cuda:N or N"),
    (["calibrate", "--model", "pose", "--device", "cuda"], "--device cuda: no such CUDA device"),
    (["export", "--config", "w99"], "unrecognized option --config"),
])
def test_bad_options(capsys, args, fragment):
    r = posetrack_here(capsys, *args)
    _one_line_error(r, fragment)


def test_training_on_a_missing_gpu_is_refused_before_anything_is_written(tmp_path):
    r = posetrack_cli("train", "pose", "--device", "cuda:1", "--out", str(tmp_path / "run"))
    _one_line_error(r, "--device cuda:1: no such CUDA device")
    assert not (tmp_path / "run").exists()


def test_demo_refuses_a_bad_backend_option_before_writing_anything(tmp_path):
    r = posetrack_cli("demo", "--torch-compile", "--device", "cpu", "--frames", "2", "--out", str(tmp_path / "demo"))
    _one_line_error(r, "--torch-compile compiles the PyTorch backend")
    assert not (tmp_path / "demo").exists()



@pytest.mark.slow
def test_demo_writes_its_run_summary_with_json(tmp_path):
    import jsonschema
    from conftest import schema

    r = posetrack_cli("demo", "--frames", "6", "--no-video", "--json", str(tmp_path / "summary.json"), "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    jsonschema.validate(summary, schema("run-summary"))
    assert summary["frames"] == 6 and summary["fps"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["SIGINT", "SIGKILL"])
def test_an_interrupted_bench_keeps_what_it_measured(tmp_path, stop):
    proc = subprocess.Popen(posetrack_command("bench", "--models", "demo", "--backends", "torch", "--precisions", "fp32",
                                              "--batches", "1,2,4,8", "--repeats", "2", "--min-seconds", "0.1",
                                              "--out", tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=as_from_a_terminal())
    for line in proc.stdout:
        if " batch  1: " in line:  # the first engine row is measured: stop the bench there
            proc.send_signal(getattr(signal, stop))
            break
    out, err = proc.communicate(timeout=120)
    if stop == "SIGKILL":  # no chance to write a report: the rows saved as they were measured are there
        (js,) = tmp_path.glob("*-partial.json")
        assert json.loads(js.read_text())["engines"]
        return
    assert proc.returncode == 130 and "Traceback" not in err, err
    (js,) = tmp_path.glob("*-interrupted.json")
    report = json.loads(js.read_text())
    assert report["interrupted"] and report["engines"] and len(report["engines"]) < 4  # kept, and really cut short
    assert "**Interrupted**" in js.with_suffix(".md").read_text() and f"wrote {js}" in out
    assert not list(tmp_path.glob("*-partial.json"))  # the report replaces the rows saved on the way


@pytest.mark.slow
def test_bench_report_schema_and_outputs(tmp_path):
    r = posetrack_cli("bench", "--models", "demo,detector", "--backends", "torch,ort", "--precisions", "fp32,int8",
            "--batches", "1,2", "--repeats", "2", "--min-seconds", "0.1", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    (md,) = tmp_path.glob("*.md")
    (js,) = tmp_path.glob("*.json")
    assert len(list(tmp_path.glob("*.png"))) == 3
    report = json.loads(js.read_text())
    assert set(report) >= {"options", "environment", "ceilings", "engines", "speedups", "accuracy", "pipeline",
                           "tracker"}
    env = report["environment"]
    assert env["cores"] >= 1 and env["cpu"] and "onnxruntime" in env and "git_commit" in env
    assert list(report["ceilings"]) == ["cpu"] and report["ceilings"]["cpu"]["gflops_per_s"] > 1
    engines = report["engines"]
    # torch fp32 + ort fp32/int8, for two models, two batch sizes
    assert {(e["model"].split("_")[0], e["precision"], e["batch"]) for e in engines} == {
        (m, p, b) for m in ("pose", "detector") for p in ("fp32", "int8") for b in (1, 2)}
    for e in engines:
        assert e["p99_ms"] >= e["p90_ms"] >= e["median_ms"] * 0.5 > 0
        assert e["items_per_s"] == pytest.approx(e["batch"] / e["median_ms"] * 1e3)
        assert e["gflops_per_s"] == pytest.approx(e["gflop_per_item"] * e["items_per_s"])
    # INT8 vs FP32 of ONNX Runtime, alternating rounds (eager PyTorch has no INT8 to compare)
    assert {(u["model"].split("_")[0], u["backend"].split(":")[0], u["precision"], u["batch"])
            for u in report["speedups"]} == {(m, "ort", "int8", b) for m in ("pose", "detector") for b in (1, 2)}
    rounds = report["options"]["speedup_rounds"]
    assert rounds >= 5 and all(u["speedup"] > 0 and u["rounds"] == rounds for u in report["speedups"])
    metrics = {(a["model"].split("_")[0], a["precision"], a["metric"]) for a in report["accuracy"]}
    assert {("pose", "int8", "OKS AP"), ("pose", "int8", "argmax agreement vs fp32"),
            ("pose", "int8", "argmax within one cell of fp32"), ("detector", "int8", "box AP50")} <= metrics
    agreement = {(a["model"], a["backend"], a["precision"], a["metric"]): a["value"] for a in report["accuracy"]}
    for (model, backend, precision, metric), value in agreement.items():
        if metric == "argmax within one cell of fp32":
            assert value >= agreement[model, backend, precision, "argmax agreement vs fp32"]
    modes = {(p["precision"], p["mode"]) for p in report["pipeline"]}
    assert modes == {(p, m) for p in ("fp32", "int8") for m in ("pipelined", "sequential")}
    for p in report["pipeline"]:
        slowest = min(p["stage_fps"].values())
        assert p["overlap_efficiency"] == pytest.approx(p["fps"] / slowest) and 0 < p["overlap_efficiency"] <= 1.05
    assert [t["people"] for t in report["tracker"]] == [1, 2, 5, 10, 20, 50]
    text = md.read_text()
    width, height = DEMO_POSE.input_size
    assert "## Ceiling" in text and f"| pose_demo_{height}x{width} | torch:cpu | cpu | fp32 | 1 |" in text
    assert {e["timer"] for e in engines} == {"wall"} and {e["device"] for e in engines} == {"cpu"}
    assert {p["backend"] for p in report["pipeline"]} == {"ort:cpu fp32 (--device cpu)", "ort:cpu int8 (--device cpu)"}


def test_synth_command_writes_video_and_truth(tmp_path):
    r = posetrack_cli("synth", str(tmp_path), "--preset", "easy", "--seed", "4", "--frames", "12", "--size", "320x192")
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "100004_mpii_test.json").read_text())
    assert len(data["images"]) == 12 and data["images"][0]["width"] == 320
    assert (tmp_path / "100004_mpii_test.mp4").stat().st_size > 1000


@pytest.mark.parametrize("args,fragment", [
    (["--size", "640by360"], "WIDTHxHEIGHT"),
    (["--frames", "0"], "positive"),
    (["--frames", "20000"], "at most 10000"),
    (["--preset", "nightmare"], "invalid choice"),
    (["--preset", "easy", "--size", "160x96"], "height of at least 129"),
])
def test_synth_bad_options(capsys, tmp_path, args, fragment):
    _one_line_error(posetrack_here(capsys, "synth", str(tmp_path), *args), fragment)


@pytest.mark.slow
def test_bench_synth_report(tmp_path):
    r = posetrack_cli("bench", "--synth", "--repeats", "1", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    (js,) = tmp_path.glob("*-synth.json")
    rows = json.loads(js.read_text())["results"]
    assert {row["preset"] for row in rows} >= {"easy", "crossing", "crowd"}
    assert all(row["frames_per_s"] > 0 and row["frames"] == 30 for row in rows)


def test_cli_module_loads_without_torch():
    """torch loads inside main(), where Ctrl-C during that second of importing ends as 'interrupted', not a traceback."""
    code = "import sys, posetrack.cli; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr


def test_help_loads_no_torch():
    """``--help`` answers at once: it reads the options' defaults, never the networks."""
    code = ("import sys; from posetrack.cli import main\nfor command in ('run', 'demo', 'bench', 'models', 'eval'):\n"
            "    try:\n        main([command, '--help'])\n    except SystemExit:\n        pass\n"
            "print('torch' in sys.modules, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stderr.strip().splitlines()[-1] == "False" and r.stdout.count("usage: posetrack") == 5, r.stderr


@pytest.mark.slow
def test_train_pose_with_its_defaults_runs(tmp_path):
    """The README's training command with nothing but --out (and a short run): no NameError on the defaults."""
    r = posetrack_cli("train", "pose", "--out", str(tmp_path / "run"), "--steps", "1", "--batch", "4")
    assert r.returncode == 0, r.stderr
    assert "best OKS AP" in r.stdout and (tmp_path / "run" / "best.pth").exists()


def test_the_demo_models_on_real_footage_get_one_warning(tmp_path, clip_factory, capsys):
    """Anything but this project's own synthetic clips (here: one copied under another name) gets one warning line
    saying what the demo models know and how to get a real model; the synthetic clip itself gets none."""
    import shutil

    video, _ = clip_factory("easy", 2)
    real = tmp_path / "street.mp4"
    shutil.copy(video, real)
    warned = posetrack_here(capsys, "run", str(real), "--pose-model", "demo", "--detector", "demo", "--no-video", "--out",
                  str(tmp_path / "a"))
    lines = [line for line in warned.stderr.splitlines() if line.startswith("posetrack: warning:")]
    assert warned.returncode == 0 and len(lines) == 1
    assert "only this project's synthetic people" in lines[0] and "posetrack models fetch" in lines[0]
    quiet = posetrack_here(capsys, "run", str(video), "--pose-model", "demo", "--detector", "demo", "--no-video", "--out",
                 str(tmp_path / "b"))
    assert quiet.returncode == 0 and "warning" not in quiet.stderr


def test_models_info_of_a_users_file_says_what_it_is_taken_for(tmp_path, capsys):
    from test_detect import PEOPLE, baked_onnx, post_nms

    path = baked_onnx(tmp_path / "mine.onnx", post_nms(PEOPLE))
    info = posetrack_here(capsys, "models", "info", str(path))
    assert info.returncode == 0, info.stderr
    assert "(your file)" in info.stdout and "shipped" not in info.stdout
    assert "post-nms layout (read from its output [1, 3, 6]" in info.stdout
    assert f"--detector {path}" in info.stdout  # the calibration command names the file, so it works as printed
    assert "mean [0, 0, 0], std [255, 255, 255]" in info.stdout  # no float32 noise
    pose = posetrack_here(capsys, "models", "info", "hrnet_w32_posetrack18_256x192")
    assert "with flip test" in pose.stdout and "--flip-test" in pose.stdout
    assert "with flip test" in posetrack_here(capsys, "models").stdout
