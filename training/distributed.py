"""What one training process needs to know about the others in a multi-process run.

`torchrun`, `accelerate launch` and `mpirun` start one copy of `training.train` per device and
tell each its rank through the environment. Rank 0 alone writes the run directory's status,
config and metrics; every rank must take the same decisions (stop now, resume from which
checkpoint) on the same step, or one waits forever in a collective the others never join.
Everything here is a no-op in a single process.
"""
from __future__ import annotations

import os
from typing import Callable, TypeVar

T = TypeVar("T")

# torchrun/accelerate set RANK and WORLD_SIZE; mpirun (accelerate's multi-CPU launcher) sets its own.
_RANK = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK")
_SIZE = ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")


def _env_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        if os.environ.get(name, "").strip().isdigit():
            return int(os.environ[name])
    return default


def rank() -> int:
    """This process's global rank (0 in a single-process run)."""
    return _env_int(_RANK, 0)


def world_size() -> int:
    """How many training processes the launcher started, on all machines (1 when run plainly)."""
    return _env_int(_SIZE, 1)


def is_main() -> bool:
    return rank() == 0


def initialized() -> bool:
    """Whether torch.distributed has a process group (the Trainer makes one for >1 process)."""
    import torch.distributed as dist
    return dist.is_available() and dist.is_initialized()


def agree(stop: bool, tokens: int, device) -> tuple[bool, int]:
    """(whether any rank wants to stop, loss tokens summed over all ranks), the same answer on
    every rank. One all-reduce per step carries both: a SUM of 0/1 flags is non-zero exactly
    when their MAX is 1. `device` must be the rank's own (a CUDA tensor for NCCL)."""
    if not initialized():
        return stop, tokens
    import torch
    import torch.distributed as dist
    both = torch.tensor([int(stop), int(tokens)], dtype=torch.int64, device=device)
    dist.all_reduce(both, op=dist.ReduceOp.SUM)
    return bool(both[0].item()), int(both[1].item())


def from_main(compute: Callable[[], T]) -> T:
    """`compute()` run on rank 0 only, its result handed to every rank (it must pickle)."""
    if not initialized():
        return compute()
    import torch.distributed as dist
    box = [compute() if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]
