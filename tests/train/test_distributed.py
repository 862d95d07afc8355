"""The training loops under torchrun: two CPU processes (gloo) stay in lockstep.

Each process draws its own batches, DistributedDataParallel averages the gradients, so the
weights (and the EMA codebook, which follows rank 0) are identical on both ranks afterwards.
The processes are started as torchrun starts them: environment variables, one per rank.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
mp = pytest.importorskip("torch.multiprocessing")

WORLD = 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rank_main(rank: int, port: int, out: str) -> None:
    """One torchrun worker: a few steps of the transformer loop and of the VQ tokenizer."""
    from dataclasses import replace

    from engine.train import distributed
    from engine.train.image import data as idata
    from engine.train.image import maskgit as mg
    from engine.train.image import vq
    from engine.train.loop import LoopSettings, masked_token_loss, train_loop

    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(WORLD),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    cfg = mg.tiny_config(vocab_size=8, grid=4)
    maps = [np.random.default_rng(k).integers(0, 8, (12, 12)) for k in range(4)]
    drawn: list[np.ndarray] = []

    def make_batch(rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
        batch = mg.training_batch(maps, rng, count, cfg, 8)
        drawn.append(batch[0])
        return batch

    valid = mg.training_batch(maps, np.random.default_rng(5), 8, cfg, 8)
    model = mg.ImageMaskGIT(cfg)  # each rank its own init: rank 0's is broadcast
    settings = LoopSettings(max_steps=4, batch=4, warmup_steps=2, bf16=False, threads=1)
    _, stats = train_loop(model, make_batch, masked_token_loss, valid, settings, lambda s: None)
    images = idata.synthetic_images(3, 40, seed=rank)  # different photos on each rank
    vq_settings = vq.VQTrainSettings(max_steps=3, batch=2, crop=32, bf16=False, threads=1)
    crops = idata.random_crops(images, np.random.default_rng(0), 2, 32)
    tokenizer, _ = vq.train_tokenizer(
        vq.tiny_config(), images, crops, replace(vq_settings), log=lambda s: None
    )
    torch.save(
        {
            "world": distributed.world_size(),
            "steps": stats["steps"],
            "first_batch": drawn[0],
            "transformer": model.state_dict(),
            "tokenizer": tokenizer.state_dict(),
        },
        Path(out) / f"rank{rank}.pt",
    )
    distributed.finish()


def test_two_cpu_processes_train_in_lockstep(tmp_path: Path) -> None:
    mp.spawn(_rank_main, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]
    assert [r["world"] for r in ranks] == [WORLD, WORLD]
    assert [r["steps"] for r in ranks] == [4, 4]
    assert not np.array_equal(ranks[0]["first_batch"], ranks[1]["first_batch"])  # own shards
    for part in ("transformer", "tokenizer"):
        first, second = ranks[0][part], ranks[1][part]
        assert first.keys() == second.keys()
        for name in first:
            assert torch.equal(first[name], second[name]), f"{part}.{name} differs"
    assert "codebook" in " ".join(ranks[0]["tokenizer"])


def test_a_plain_run_joins_no_process_group() -> None:
    from engine.train import distributed

    assert "WORLD_SIZE" not in os.environ or os.environ["WORLD_SIZE"] == "1"
    distributed.setup(torch.device("cpu"))
    assert not distributed.active() and distributed.is_main() and distributed.world_size() == 1
    assert distributed.shard_seed(7) == 7 and distributed.agreed_seconds(1.5) == 1.5
