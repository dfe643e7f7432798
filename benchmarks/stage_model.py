#!/usr/bin/env python3
"""A model of 'pyenvmod stage' at scale: the time until every node has its copy, and the bytes read
from the shared file system, for the two ways:

  per-node read   one srun task per node reads the image from the shared file system and unpacks
                  it: N readers share the file system's aggregate bandwidth;
  sbcast          the image is read once and Slurm forwards it through a tree of slurmds with a
                  fan-out F (each forwarder sends each block to up to F children in turn), then
                  one srun step unpacks it on every node from node-local disk.

    python benchmarks/stage_model.py [--image-gb 2] [--nodes 64 1000 10000] [--fs-gbs 100]
                                     [--fanout 8] [--net-gbs 12.5]

Constants: MEASURED ones come from benchmarks/stage.py --nodes on the CI machine (docs/benchmarks.md,
a 46 MB image of 163 MB, four slurmds on one 2-core machine); ASSUMED ones are typical of a large
cluster and are options. The model is a first-order estimate (no contention on the network, no
stragglers); it says where the crossover is and how the two ways scale, not a prediction to the
second.
"""

import argparse
import math

# MEASURED (benchmarks/stage.py on the CI machine; see docs/benchmarks.md)
UNPACK_S_PER_GB = 1.20 / 0.046  # 'stage' on one node: 1.20 s for a 46 MB image (unpack + relocate), per GB of image
STEP_S = 0.35  # an empty 'srun -N n true' step in an allocation, 2 and 4 nodes (it grows slowly: see STEP_S_PER_NODE)
DRIVER_S = 0.5  # the job-script 'stage' before its step: python start, the image's stamp, starting sbcast

# ASSUMED (options; typical values of a large cluster)
FS_AGGREGATE_GBS = 100.0  # a Lustre/GPFS file system's aggregate read bandwidth, GB/s, shared by the job
FS_CLIENT_GBS = 2.0  # what one client node reads from it, GB/s
NET_GBS = 12.5  # one node's link (100 Gb/s), GB/s
FANOUT = 8  # sbcast's fan-out (its maximum)
BLOCK_GB = 0.008  # sbcast's block (8 MB)
HOP_S = 0.002  # latency of one forwarding hop per block
STEP_S_PER_NODE = 0.0003  # srun's step launch per node (a 10,000-node step starts in a few seconds)


def step(nodes: int) -> float:
    return STEP_S + STEP_S_PER_NODE * nodes


def per_node(image_gb: float, nodes: int, fs_gbs: float) -> tuple:
    """(seconds until every node is staged, GB read from the shared file system)."""
    read = max(image_gb / FS_CLIENT_GBS, image_gb * nodes / fs_gbs)  # each node's share of the bandwidth
    unpack = image_gb * UNPACK_S_PER_GB
    return DRIVER_S + step(nodes) + max(read, unpack), image_gb * nodes


def sbcast(image_gb: float, nodes: int, fanout: int, net_gbs: float) -> tuple:
    depth = max(1, math.ceil(math.log(nodes, fanout))) if nodes > 1 else 1
    blocks = max(1, math.ceil(image_gb / BLOCK_GB))
    per_block = fanout * min(BLOCK_GB, image_gb) / net_gbs + HOP_S
    broadcast = image_gb / FS_CLIENT_GBS + (blocks + depth - 1) * per_block  # read once, blocks pipelined down the tree
    unpack = image_gb * UNPACK_S_PER_GB
    return DRIVER_S + broadcast + step(nodes) + unpack, image_gb


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-gb", type=float, default=2.0, help="the packed image, GB (default 2)")
    parser.add_argument("--nodes", type=int, nargs="+", default=[64, 1000, 10000])
    parser.add_argument("--fs-gbs", type=float, default=FS_AGGREGATE_GBS, help="shared FS aggregate GB/s")
    parser.add_argument("--fanout", type=int, default=FANOUT, help="sbcast fan-out")
    parser.add_argument("--net-gbs", type=float, default=NET_GBS, help="a node's network link, GB/s")
    args = parser.parse_args()
    print(f"image {args.image_gb:g} GB; shared FS {args.fs_gbs:g} GB/s aggregate, {FS_CLIENT_GBS:g} GB/s per client; "
          f"sbcast fan-out {args.fanout}, links {args.net_gbs:g} GB/s")
    print("nodes | time to staged: per-node read -> sbcast | read from the shared FS: per-node read -> sbcast")
    for n in args.nodes:
        t1, b1 = per_node(args.image_gb, n, args.fs_gbs)
        t2, b2 = sbcast(args.image_gb, n, args.fanout, args.net_gbs)
        print(f"{n:6d} | {t1:8.1f} s -> {t2:6.1f} s ({t2 / t1:.2f}x) | {b1:9.1f} GB -> {b2:.1f} GB ({b2 / b1:.4f}x)")


if __name__ == "__main__":
    main()
