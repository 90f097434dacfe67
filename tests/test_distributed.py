"""The trainer under torchrun (sebook.distributed): two gloo processes on this CPU train exactly as one process with
two micro-batches, a killed job resumes to the same weights, and bad launches fail before any work.

Why exactly, not within a tolerance: DistributedDataParallel halves each process's gradient and adds the two, and
one process with two micro-batches halves each micro-batch's loss and adds the two gradients; halving is exact in
binary floating point and the sum of two numbers does not depend on their order. With more processes the order of
the sums could differ, and the weights would then agree to rounding only.
"""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest
import torch

from sebook import distributed
from sebook.checkpoints import load_checkpoint
from sebook.manifest import read_manifest
from sebook.train import main

RUN = [
    "--reduction", "2", "--widths", "4", "8", "--recipe", "plateau", "--epochs", "3", "--batch-size", "100",
    "--train-subset", "10000", "--seed", "1", "--no-progress",
]  # fmt: skip
"""300 steps of 100 examples with augmentation: 3 epochs of 100 steps, about 10 s on one core."""

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One process, two micro-batches: the run that two processes must reproduce."""
    folder = tmp_path_factory.mktemp("one")
    subprocess.run(
        [sys.executable, "-m", "sebook.train", *RUN, "--micro-batches", "2", "--out", "one.pt"],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return load_checkpoint(folder / "one.pt")[0].state_dict()


def test_two_processes_train_as_one_process_with_two_micro_batches(tmp_path, reference):
    done = subprocess.run(
        [*TORCHRUN, "-m", "sebook.train", *RUN, "--out", "two.pt"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert states_equal(load_checkpoint(tmp_path / "two.pt")[0].state_dict(), reference)
    entry = read_manifest(tmp_path / "manifest.json")["checkpoints"]["two.pt"]
    assert entry["world_size"] == 2 and entry["micro_batches"] == 1
    assert done.stdout.count("test accuracy") == 1  # rank 0 alone reports and writes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "two.pt"]


def test_a_killed_job_resumes_to_the_same_weights(tmp_path, reference):
    job = subprocess.Popen(
        [*TORCHRUN, "-m", "sebook.train", *RUN, "--out", "two.pt"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not (tmp_path / "two.pt.partial").exists():  # rank 0 saves every finished epoch
        assert job.poll() is None, "the job ended before its first epoch was saved"
        time.sleep(0.05)
    ranks = psutil.Process(job.pid).children(recursive=True)  # in their own sessions on some torch releases
    for process in [psutil.Process(job.pid), *ranks]:
        process.kill()  # the launcher and both ranks, with no chance to clean up
    job.wait()
    psutil.wait_procs(ranks, timeout=30)
    assert not (tmp_path / "two.pt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # nothing half-written
    done = subprocess.run(
        [*TORCHRUN, "-m", "sebook.train", *RUN, "--out", "two.pt", "--resume", "two.pt.partial"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert states_equal(load_checkpoint(tmp_path / "two.pt")[0].state_dict(), reference)
    assert not (tmp_path / "two.pt.partial").exists()


LAUNCH = {"RANK": "0", "WORLD_SIZE": "3", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29555"}


@pytest.mark.parametrize(
    "env, message",
    [
        (LAUNCH, "the batch size 100 does not divide among 3 process(es) x 1 micro-batch(es)"),
        ({"RANK": "0"}, "this process has RANK but not WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT"),
        ({**LAUNCH, "RANK": "3"}, "RANK must lie in [0, WORLD_SIZE)"),
        ({**LAUNCH, "WORLD_SIZE": "two"}, "RANK, WORLD_SIZE and LOCAL_RANK must be integers"),
    ],
)
def test_a_bad_launch_fails_at_once_naming_what_is_wrong(env, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in distributed.LAUNCH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_info:
        main([*RUN, "--out", "x.pt"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_single_process_is_a_world_of_one():
    assert distributed.world_from_env({}) == distributed.World(0, 1, 0)
    world = distributed.world_from_env({**LAUNCH, "RANK": "2"})
    assert (world.rank, world.size, world.main) == (2, 3, False)
    assert distributed.batch_share(128, distributed.World(0, 2), 2) == 32
