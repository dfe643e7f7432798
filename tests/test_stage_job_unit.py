"""A node's part of 'pyenvmod stage NAME' in a job script (operations/stage_job.node_step), in-process
on a real small environment: the broadcast copy is unpacked only when it is whole, and a copy that
sbcast left cut short, or that does not unpack, is never a failure: the node reads the shared image.
(The same on the real four-node cluster: tests/test_stage_broadcast.py.)"""

import json
import os
import shutil

import pytest

from guardenv import World


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    monkeypatch.delenv("SLURMD_NODENAME", raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    return World(tmp_path, monkeypatch)


def _packed(world):
    from pyenvmod.operations import pack

    world.make("e", backend="conda")  # its interpreter inside it: a small image
    return pack.pack(world.config, "e")[1]


def _node_step(world, capsys, prefix):
    from pyenvmod.operations import stage_job

    code = stage_job.node_step(world.config, ["e"], prefix)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return code, records


def test_a_whole_broadcast_copy_is_unpacked_and_removed(world, capsys, tmp_path):
    from pyenvmod.operations import stage_job

    image = _packed(world)
    prefix = str(tmp_path / "local" / ".pyenvmod-me-bcast-77-x")
    (tmp_path / "local").mkdir(exist_ok=True)
    shutil.copyfile(image, stage_job.broadcast_name(prefix, "e"))
    assert stage_job._whole(world.config, "e", stage_job.broadcast_name(prefix, "e"))
    code, records = _node_step(world, capsys, prefix)
    assert code == 0 and [(r["action"], r["via"]) for r in records] == [("staged", "broadcast")], records
    assert not os.path.exists(stage_job.broadcast_name(prefix, "e"))


@pytest.mark.parametrize("damage", ["cut short", "same size, not an image", "missing"])
def test_a_broken_or_missing_broadcast_copy_has_the_node_read_the_shared_image(world, capsys, tmp_path, damage,
                                                                              monkeypatch):
    from pyenvmod.operations import stage, stage_job

    unpacked = []
    real = stage._unpack
    monkeypatch.setattr(stage, "_unpack", lambda image, *a: unpacked.append(str(image)) or real(image, *a))

    image = _packed(world)
    prefix = str(tmp_path / "local" / ".pyenvmod-me-bcast-77-x")
    (tmp_path / "local").mkdir(exist_ok=True)
    copy = stage_job.broadcast_name(prefix, "e")
    data = image.read_bytes()
    if damage == "cut short":  # what an sbcast that failed on another node leaves
        open(copy, "wb").write(data[:len(data) // 2])
    elif damage == "same size, not an image":
        open(copy, "wb").write(b"\0" * len(data))
    expect_whole = damage == "same size, not an image"
    assert stage_job._whole(world.config, "e", copy) is expect_whole
    code, records = _node_step(world, capsys, prefix)
    assert code == 0 and [(r["action"], r["via"]) for r in records] == [("staged", "shared")], records
    assert not os.path.exists(copy)  # what sbcast left is removed either way
    assert os.path.isdir(records[0]["copy"])
    # a copy cut short is never even tried (its size tells); one of the right size is, once
    assert unpacked == ([copy] if expect_whole else []) + [str(image)], unpacked
