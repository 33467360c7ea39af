#!/usr/bin/python3
"""Helper of bench/dist: PyTorch 1.13 DistributedDataParallel (gloo, CPU) on the seed models.

  dist_torch.py MODEL RANKS WARMUP STEPS
      RANKS processes on this machine (torch.multiprocessing), one thread each
      (torch.set_num_threads(1)), a global batch of 32 224x224 images split evenly; each step:
      zero_grad, forward, sample-weighted cross-entropy, backward (DDP all-reduces the
      gradients in buckets during it), Adam step -- the work of one step of
      `mpirun -np RANKS EXE train --threads 1`. Rank 0 prints 'median_s <median of STEPS
      timed steps after WARMUP>'.
"""
import os
import statistics
import sys
import time


def worker(rank, ranks, name, warmup, steps, port):
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "reference"))
    import keras_models as km
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=ranks)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(km.build(name))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    per = 32 // ranks
    g = torch.Generator().manual_seed(rank)
    x = torch.rand(per, 3, 224, 224, generator=g) * 255
    y = torch.randint(0, 4, (per,), generator=g)
    w = torch.rand(per, generator=g) + 0.5
    times = []
    for _ in range(warmup + steps):
        dist.barrier()  # every step starts together, as sinter's ranks leave the previous all-reduce together
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model.module.logits(x) if hasattr(model.module, "logits") else model(x)
        loss = (F.cross_entropy(logits, y, reduction="none") * w).sum() / per
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    if rank == 0:
        print("median_s %.6f" % statistics.median(times[warmup:]), flush=True)
    dist.destroy_process_group()


def main():
    import torch.multiprocessing as mp
    name, ranks, warmup, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    port = 29500 + os.getpid() % 1000
    mp.spawn(worker, args=(ranks, name, warmup, steps, port), nprocs=ranks, join=True)


if __name__ == "__main__":
    main()
