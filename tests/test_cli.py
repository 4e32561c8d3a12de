"""``streaming-umap`` as a shell script sees it: files in and out, exit codes,
messages on stderr, Ctrl-C, and the in-process service of ``run``."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from streaming_umap.cli import Exit, build_parser, exit_code, main
from streaming_umap.client import Client
from streaming_umap.datasets import labelled_mixture

from .conftest import NUMBA_CACHE, Service, free_port

ROWS, DIMS, CLUSTERS = 1500, 16, 4
LONG_EPOCHS = 5000


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "STREAMING_UMAP_URL"}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def cli(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streaming_umap.cli", *args], env=cli_env(**env),
                          capture_output=True, text=True, timeout=timeout, check=False)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def mixture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    data, labels = labelled_mixture(ROWS, DIMS, clusters=CLUSTERS, seed=5)
    path = tmp_path_factory.mktemp("cli-data") / "mixture.npy"
    np.save(path, data)
    return path, labels


def test_parser_keeps_serve_and_documents_exit_codes() -> None:
    args = build_parser().parse_args(["serve", "--host", "127.0.0.1", "--port", "9", "--workers", "2"])
    assert (args.host, args.port, args.workers) == ("127.0.0.1", 9, 2)
    help_text = cli("--help").stdout
    for word in ("run", "jobs", "status", "cancel", "pause", "resume", "bench", "130", "141"):
        assert word in help_text


def test_exit_codes_follow_the_exception_tree() -> None:
    from streaming_umap import client as c
    from streaming_umap._cli.run import Interrupted, UsageError

    cases = {
        c.JobFailed("j", "boom"): Exit.JOB_FAILED, c.JobCancelled("j"): Exit.JOB_FAILED,
        c.InvalidRequest(422, "bad"): Exit.USAGE, c.PayloadTooLarge(413, "big"): Exit.USAGE,
        c.InvalidInput("ragged"): Exit.USAGE, UsageError("no file"): Exit.USAGE,
        c.ConnectionError("http://x", OSError("refused")): Exit.UNREACHABLE,
        c.NotFound(404, "no"): Exit.NOT_FOUND, c.Conflict(409, "done"): Exit.NOT_FOUND,
        c.Gone(410, "expired"): Exit.NOT_FOUND, c.QueueFull(429, "full"): Exit.SERVER,
        c.Unavailable(503, "busy"): Exit.SERVER, c.ServerError(500, "bug"): Exit.SERVER,
        KeyboardInterrupt(): Exit.INTERRUPTED, Interrupted("j", "cancelled"): Exit.INTERRUPTED,
    }
    for exc, code in cases.items():
        assert exit_code(exc) == code, exc
    assert exit_code(ZeroDivisionError()) is None  # a bug keeps its traceback


def test_run_npy_with_clustering(service: Service, mixture: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, labels = mixture
    out = tmp_path / "layout.npy"
    done = cli("run", str(path), "--out", str(out), "--server", service.url, "--cluster", "kmeans",
               "--n-clusters", str(CLUSTERS), "--seed", "1", "--metric", "cosine", "--n-neighbors", "20")
    assert done.returncode == 0, done.stderr
    labels_out = tmp_path / "layout.labels.npy"
    assert done.stdout.split() == [str(out), str(labels_out)]
    assert "queued" in done.stderr and "ETA" in done.stderr and "100.0%" in done.stderr
    layout, found = np.load(out), np.load(labels_out)
    assert layout.shape == (ROWS, 2) and layout.dtype == np.float32 and found.dtype == np.int32
    assert adjusted_rand_score(labels, found) > 0.9


def test_run_csv_with_header_and_options(service: Service, mixture: tuple[Path, np.ndarray],
                                         tmp_path: Path) -> None:
    data = np.load(mixture[0])[:1200]
    csv = tmp_path / "points.csv"
    np.savetxt(csv, data, delimiter=",", header=",".join(f"f{i}" for i in range(DIMS)), comments="")
    out = tmp_path / "points-3d"  # no .npy suffix: written under exactly this name
    done = cli("run", str(csv), "--out", str(out), "--server", service.url, "--n-components", "3",
               "--n-epochs", "100", "--quiet")
    assert done.returncode == 0, done.stderr
    assert np.load(out).shape == (1200, 3) and "%|" not in done.stderr


def test_run_refuses_bad_input_with_exit_2(service: Service, tmp_path: Path) -> None:
    bad = np.ones((1200, 4), dtype=np.float32)
    bad[5, 1] = np.inf
    np.save(tmp_path / "inf.npy", bad)
    (tmp_path / "words.csv").write_text("a,b\n1,2\nthree,4\n")
    (tmp_path / "data.txt").write_text("1,2\n")
    np.save(tmp_path / "one.npy", np.ones((1200, 1), dtype=np.float32))
    out = str(tmp_path / "out.npy")
    cases = {
        "inf.npy": "row 5",
        "words.csv": "cannot read",
        "data.txt": ".npy or .csv",
        "missing.npy": "does not exist",
        "one.npy": "at least 2 columns",
    }
    for name, message in cases.items():
        done = cli("run", str(tmp_path / name), "--out", out, "--server", service.url, "-q")
        assert done.returncode == Exit.USAGE and message in done.stderr, (name, done.stderr)
        assert done.stderr.startswith("streaming-umap: error:") and done.stdout == ""
    bogus = cli("run", str(tmp_path / "inf.npy"), "--out", out, "--server", service.url, "--metric", "bogus")
    assert bogus.returncode == Exit.USAGE and "metric" in bogus.stderr
    assert cli("run", "x.npy").returncode == Exit.USAGE  # argparse: --out is required
    assert not Path(out).exists()


def test_unreachable_server_exits_3(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    np.save(tmp_path / "x.npy", np.ones((10, 3)))
    run = cli("run", str(tmp_path / "x.npy"), "--out", str(tmp_path / "o.npy"), "--server", nowhere)
    jobs = cli("jobs", STREAMING_UMAP_URL=nowhere)
    for done in (run, jobs):
        assert done.returncode == Exit.UNREACHABLE and nowhere in done.stderr, done.stderr


def test_job_commands_and_their_exit_codes(service: Service, mixture: tuple[Path, np.ndarray],
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process through ``main(argv)`` (the console script's function), to spare
    a dozen interpreter start-ups; ``run`` is tested as a real subprocess above."""

    def call(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    with Client(service.url) as client:
        job = client.submit_umap(np.load(mixture[0]), n_epochs=LONG_EPOCHS)
    code, out, _ = call("jobs", "--server", service.url)
    assert code == 0 and job.job_id in out and "STATUS" in out
    monkeypatch.setenv("STREAMING_UMAP_URL", service.url)
    code, out, _ = call("jobs", "--json")
    assert code == 0 and job.job_id in {j["job_id"] for j in json.loads(out)}
    code, out, _ = call("status", job.job_id)
    assert code == 0 and json.loads(out)["kind"] == "umap"
    for action in ("pause", "resume", "cancel"):
        code, out, err = call(action, job.job_id)
        assert code == 0 and json.loads(out)["job_id"] == job.job_id, err
    code, out, err = call("status", job.job_id, "--wait", "-q")
    assert code == Exit.JOB_FAILED and "cancelled" in err
    assert json.loads(out)["status"] == "cancelled"
    code, out, err = call("cancel", job.job_id)
    assert code == Exit.NOT_FOUND and "409" in err and out == ""
    for action in ("status", "pause", "resume", "cancel"):
        code, out, err = call(action, "no-such-job")
        assert code == Exit.NOT_FOUND and "no-such-job" in err and out == ""


def test_a_closed_pipe_ends_the_output_quietly(service: Service) -> None:
    """`streaming-umap jobs --all | head -5`: the reader leaves early. Here it has left before
    the first line, so every write fails; no BrokenPipe traceback, exit 141 as for SIGPIPE."""
    for extra in ([], ["--json"]):  # the table's header line, or the JSON list, is always written
        read, write = os.pipe()
        os.close(read)
        try:
            done = subprocess.run([sys.executable, "-m", "streaming_umap.cli", "jobs", "--all", *extra,
                                   "--server", service.url], stdout=write, stderr=subprocess.PIPE,
                                  text=True, env=cli_env(), timeout=60, check=False)
        finally:
            os.close(write)
        assert (done.returncode, done.stderr) == (Exit.BROKEN_PIPE, ""), extra
    shell = subprocess.run(["bash", "-c", f"{sys.executable} -m streaming_umap.cli jobs --all "
                            f"--server {service.url} | head -1"], capture_output=True, text=True,
                           env=cli_env(), timeout=60, check=False)
    assert shell.stdout.startswith("JOB ID") and "Traceback" not in shell.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_cancels_the_job_and_exits_130(service: Service, mixture: tuple[Path, np.ndarray],
                                              tmp_path: Path, signum: signal.Signals) -> None:
    out = tmp_path / "never.npy"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streaming_umap.cli", "run", str(mixture[0]), "--out", str(out),
         "--server", service.url, "--n-epochs", str(LONG_EPOCHS)],
        env=cli_env(), stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert "queued" in first, first
        job_id = first.split("job ")[1].split()[0]
        with Client(service.url) as client:
            deadline = time.monotonic() + 60
            while client.job(job_id).status().stage != "layout":
                assert time.monotonic() < deadline, "the job never reached its layout stage"
                time.sleep(0.1)
            proc.send_signal(signum)
            stdout, stderr = proc.communicate(timeout=60)
            assert proc.returncode == Exit.INTERRUPTED, stderr
            assert f"job {job_id} cancelled" in stderr and stdout == ""
            assert client.job(job_id).status().status == "cancelled"
        assert not out.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_without_server_computes_in_its_own_process(mixture: tuple[Path, np.ndarray],
                                                        tmp_path: Path) -> None:
    """No service and no worker pool: the job runs in the ``run`` process, after a line
    that says what is being compiled for it."""
    out = tmp_path / "local.npy"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streaming_umap.cli", "run", str(mixture[0]), "--out", str(out),
         "--n-epochs", "100", "--cluster", "hdbscan", "--min-cluster-size", "20"],
        env=cli_env(NUMBA_CACHE_DIR=str(NUMBA_CACHE)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, stderr
    assert stdout.split() == [str(out), str(tmp_path / "local.labels.npy")]
    assert "computing here, on the CPU" in stderr and "clusters" in stderr
    assert "compiling what this job needs (exact kNN, euclidean, parallel layout" in stderr
    assert "umap [layout]" in stderr  # the progress bar went through the stages
    assert np.load(out).shape == (ROWS, 2)
    assert np.load(tmp_path / "local.labels.npy").shape == (ROWS,)
    assert not group_alive(proc.pid), "the run left processes behind"


def test_run_without_server_refuses_bad_input_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npy"
    data = np.ones((50, 4), dtype=np.float32)
    data[7, 2] = np.nan
    np.save(bad, data)
    proc = subprocess.run(
        [sys.executable, "-m", "streaming_umap.cli", "run", str(bad), "--out", str(tmp_path / "o.npy")],
        env=cli_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "row 7 contains a non-finite value" in proc.stderr
    assert not (tmp_path / "o.npy").exists()


def test_bench_forwards_to_the_benchmark_suite() -> None:
    try:
        suite = importlib.import_module("streaming_umap.bench")
        ready = callable(getattr(suite, "main", None))
    except ModuleNotFoundError:
        ready = False
    done = cli("bench", "--help", timeout=120)
    if ready:
        assert done.returncode == 0 and "usage" in done.stdout.lower(), done.stderr
    else:
        assert done.returncode == Exit.USAGE and "streaming_umap.bench" in done.stderr
