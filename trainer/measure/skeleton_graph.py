"""The graph of a one-pixel-wide skeleton: chains of pixels between junctions and free ends.

The skeleton comes from ``skimage.morphology.skeletonize`` (no thinning is done here). Pixels with three or more
8-neighbours are junction pixels; 8-connected junction pixels form one junction (a node). Every other pixel has at
most two neighbours, so removing the junction pixels leaves simple chains (paths) and closed loops; each is traced
once into an ordered list of pixels. A chain end that touches no junction is a free end (a crack tip).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


@dataclass
class Chain:
    pixels: np.ndarray                      # (N, 2) int rows of (y, x), ordered along the chain
    ends: tuple[int, int] = (-1, -1)        # junction id at the start / end; -1 = free end
    closed: bool = False                    # a loop with no junction on it


@dataclass
class SkeletonGraph:
    chains: list[Chain]
    junctions: list[np.ndarray] = field(default_factory=list)   # per junction id: (M, 2) int (y, x) pixels

    @property
    def n_endpoints(self) -> int:
        return sum((c.ends[0] < 0) + (c.ends[1] < 0) for c in self.chains if not c.closed)


def build_graph(skel: np.ndarray) -> SkeletonGraph:
    """Trace a boolean skeleton whose border row/column is empty (pad crops by at least one pixel)."""
    ys, xs = np.nonzero(skel)
    n = ys.size
    if n == 0:
        return SkeletonGraph([])
    idx = np.full(skel.shape, -1, np.int32)
    idx[ys, xs] = np.arange(n, dtype=np.int32)
    nb = np.stack([idx[ys + dy, xs + dx] for dy, dx in _OFFSETS], axis=1)
    deg = (nb >= 0).sum(axis=1)
    is_junction = deg >= 3
    # junction ids: 8-connected clusters of junction pixels
    jid = np.full(n, -1, np.int32)
    junctions: list[np.ndarray] = []
    if is_junction.any():
        jimg = np.zeros(skel.shape, np.uint8)
        jimg[ys[is_junction], xs[is_junction]] = 1
        nj, jlab = cv2.connectedComponents(jimg, connectivity=8)
        jid[is_junction] = jlab[ys[is_junction], xs[is_junction]] - 1
        order = np.argsort(jid[is_junction], kind="stable")
        jy, jx, jj = ys[is_junction][order], xs[is_junction][order], jid[is_junction][order]
        bounds = np.searchsorted(jj, np.arange(nj))
        junctions = [np.stack([jy[a:b], jx[a:b]], 1) for a, b in zip(bounds[:-1], bounds[1:])]
    # neighbours among chain pixels only
    nbc = np.where(nb >= 0, nb, 0)
    chain_nb = (nb >= 0) & ~is_junction[nbc]
    cdeg = chain_nb.sum(axis=1)
    nbl = np.where(chain_nb, nb, -1).tolist()
    jnb = np.where((nb >= 0) & is_junction[nbc], jid[nbc], -1)
    visited = bytearray(n)                                      # plain Python indexing: this loop is per pixel
    for j in np.flatnonzero(is_junction).tolist():
        visited[j] = 1
    chains: list[Chain] = []

    def walk(start: int) -> list[int]:
        path = [start]
        visited[start] = 1
        cur = start
        while True:
            for q in nbl[cur]:
                if q >= 0 and not visited[q]:
                    visited[q] = 1
                    path.append(q)
                    cur = q
                    break
            else:
                return path

    def end_junction(p: int, exclude: int = -1) -> int:
        ids = [int(j) for j in jnb[p] if j >= 0]
        if not ids:
            return -1
        others = [j for j in ids if j != exclude]
        return others[0] if others else ids[0]

    for start in np.flatnonzero(~is_junction & (cdeg <= 1)).tolist():
        if visited[start]:
            continue
        path = walk(start)
        a = end_junction(path[0])
        b = end_junction(path[-1], exclude=a if len(path) == 1 else -1)
        if len(path) == 1 and b == a:
            b = -1 if sum(j >= 0 for j in jnb[path[0]]) < 2 else b
        chains.append(Chain(np.stack([ys[path], xs[path]], 1), (a, b)))
    for start in np.flatnonzero(np.frombuffer(bytes(visited), np.uint8) == 0).tolist():   # loops, no junction
        if visited[start]:
            continue
        path = walk(start)
        chains.append(Chain(np.stack([ys[path], xs[path]], 1), (-1, -1), closed=True))
    if not chains and junctions:                                 # a blob whose skeleton is all junction
        chains.append(Chain(junctions[0][:1].copy(), (-1, -1)))
    return SkeletonGraph(chains, junctions)
