"""``run --keep-model``, ``transform`` and ``models`` as a shell script sees them: files in
and out, what goes to stdout, exit codes, and a closed pipe."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streaming_umap.cli import Exit, main
from streaming_umap.client import Client
from streaming_umap.datasets import labelled_mixture

from .conftest import Service
from .test_cli import cli, cli_env

FIT, NEW, DIMS = 1500, 1200, 16  # both above the immediate threshold: jobs with a progress bar
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data, _ = labelled_mixture(FIT + NEW, DIMS, clusters=4, seed=5)
    folder = tmp_path_factory.mktemp("cli-models")
    np.save(folder / "fit.npy", data[:FIT])
    np.save(folder / "new.npy", data[FIT:])
    return folder / "fit.npy", folder / "new.npy"


@pytest.fixture(scope="module")
def kept(service: Service, files: tuple[Path, Path]) -> tuple[Path, str]:
    """``run --keep-model``: the layout, and the model's id next to it in OUT.model_id."""
    out = files[0].with_name("layout.npy")
    done = cli("run", str(files[0]), "--out", str(out), "--server", service.url, "--keep-model",
               "--n-epochs", "100", "--seed", "1", "-q")
    assert done.returncode == 0, done.stderr
    model_file = files[0].with_name("layout.model_id")
    assert done.stdout.split() == [str(out), str(model_file)]
    model = model_file.read_text().strip()
    assert HEX32.fullmatch(model) and f"kept model {model}" in done.stderr
    assert np.load(out).shape == (FIT, 2)
    return model_file, model


def test_transform_writes_the_placed_rows(service: Service, files: tuple[Path, Path],
                                          kept: tuple[Path, str], tmp_path: Path) -> None:
    model_file, model = kept
    out = tmp_path / "placed.npy"
    done = cli("transform", str(model_file), str(files[1]), "--out", str(out),
               "--server", service.url, "--chunk-size", "400")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(out)]
    assert "queued" in done.stderr and "transform [" in done.stderr and "100.0%" in done.stderr
    placed = np.load(out)
    assert placed.shape == (NEW, 2) and placed.dtype == np.float32 and np.isfinite(placed).all()
    csv = tmp_path / "few.csv"  # a .csv, below the immediate threshold, the model by its id
    np.savetxt(csv, np.load(files[1])[:50], delimiter=",")
    few = cli("transform", model, str(csv), "--out", str(tmp_path / "few"), "-q",
              STREAMING_UMAP_URL=service.url)
    assert few.returncode == 0, few.stderr
    assert np.load(tmp_path / "few").shape == (50, 2) and "%|" not in few.stderr


def test_transform_refusals_and_their_exit_codes(service: Service, kept: tuple[Path, str],
                                                 tmp_path: Path) -> None:
    _, model = kept
    narrow = tmp_path / "narrow.npy"
    np.save(narrow, np.ones((50, DIMS - 1), dtype=np.float32))
    out = tmp_path / "out.npy"
    columns = cli("transform", model, str(narrow), "--out", str(out), "--server", service.url)
    assert columns.returncode == Exit.USAGE and "data" in columns.stderr, columns.stderr
    unknown = cli("transform", "f" * 32, str(narrow), "--out", str(out), "--server", service.url)
    assert unknown.returncode == Exit.NOT_FOUND and "f" * 32 in unknown.stderr, unknown.stderr
    bad_id = cli("transform", "nope", str(narrow), "--out", str(out), "--server", service.url)
    assert bad_id.returncode == Exit.USAGE and "model id" in bad_id.stderr
    for done in (columns, unknown, bad_id):
        assert done.stderr.startswith("streaming-umap: error:") and done.stdout == ""
    assert not out.exists()
    local = cli("run", str(narrow), "--out", str(out), "--keep-model")  # no server: refused
    assert local.returncode == Exit.USAGE and "need a server" in local.stderr


def test_models_list_show_and_rm(service: Service, files: tuple[Path, Path],
                                 capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """In-process through ``main(argv)``, as the job commands in test_cli.py."""

    def call(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    with Client(service.url) as client:  # not `run` in-process: it sets signal handlers
        model = client.umap(np.load(files[0])[:200], keep_model=True, progress=False).model_id
    (tmp_path / "few-layout.model_id").write_text(model + "\n")
    code, out, _ = call("models", "--server", service.url)
    assert code == 0 and out.startswith("MODEL ID") and model in out
    monkeypatch.setenv("STREAMING_UMAP_URL", service.url)
    code, out, _ = call("models", "list", "--json")
    listed = {m["model_id"]: m for m in json.loads(out)}
    assert code == 0 and listed[model]["rows"] == 200 and listed[model]["dims"] == DIMS
    code, out, _ = call("models", "show", str(tmp_path / "few-layout.model_id"))
    assert code == 0 and json.loads(out)["model_id"] == model
    code, out, err = call("models", "rm", model)
    assert code == 0 and json.loads(out)["model_id"] == model, err
    for argv in (("models", "rm", model), ("models", "show", model)):
        code, out, err = call(*argv)
        assert code == Exit.NOT_FOUND and model in err and out == "", argv
    code, out, _ = call("models", "--json")
    assert code == 0 and model not in {m["model_id"] for m in json.loads(out)}


def test_a_closed_pipe_ends_the_model_list_quietly(service: Service, kept: tuple[Path, str]) -> None:
    """`streaming-umap models | head -1`: no BrokenPipe traceback, exit 141."""
    for extra in ([], ["--json"]):
        read, write = os.pipe()
        os.close(read)
        try:
            done = subprocess.run([sys.executable, "-m", "streaming_umap.cli", "models", *extra,
                                   "--server", service.url], stdout=write, stderr=subprocess.PIPE,
                                  text=True, env=cli_env(), timeout=60, check=False)
        finally:
            os.close(write)
        assert (done.returncode, done.stderr) == (Exit.BROKEN_PIPE, ""), extra
    line = f"{sys.executable} -m streaming_umap.cli models --server {service.url} | head -1"
    shell = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=cli_env(),
                           timeout=60, check=False)
    assert shell.stdout.startswith("MODEL ID") and "Traceback" not in shell.stderr
