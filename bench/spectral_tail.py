#!/usr/bin/python3
"""The upper tail of the largest singular value of fresh random matrices, for verify --spectral.

For each shape and entry law (normal, uniform, truncated normal at +-2, all with std 1) it draws
many matrices, takes the exact top singular value (numpy's SVD) and prints the statistic
z = (sigma_1 - (sqrt(m) + sqrt(n))) / tau, tau = (1/sqrt(m) + 1/sqrt(n))^(1/3) / 2, whose
asymptotic law is Tracy-Widom TW1 (mean -1.21, sd 1.27, P(z > 7) < 1e-8). verify --spectral fails a
weight at z > 7 (spectral.h); this shows how far below that fresh draws stay, small shapes included.

    bench/spectral_tail.py [--scale 1.0]   # --scale multiplies the number of draws

Needs Debian's python3-numpy; takes a few minutes at scale 1.
"""
import argparse

import numpy as np

SHAPES = [(1, 1), (1, 2), (2, 2), (1, 16), (3, 3), (4, 27), (8, 9), (10, 16), (16, 16), (27, 64),
          (64, 27), (1, 512), (64, 576), (128, 128), (32, 1024), (256, 256)]


def draw(rng, kind, shape, reps):
    if kind == "normal":
        return rng.standard_normal((reps,) + shape)
    if kind == "uniform":
        return rng.uniform(-np.sqrt(3), np.sqrt(3), (reps,) + shape)
    x = rng.standard_normal(reps * shape[0] * shape[1] * 2)  # truncated at +-2, rescaled to std 1
    x = x[np.abs(x) <= 2][:reps * shape[0] * shape[1]]
    return x.reshape((reps,) + shape) / 0.87962566103423978


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    for m, n in SHAPES:
        reps = int(args.scale * (200000 if m * n <= 64 else 20000 if m * n <= 5000 else 2000))
        tau = 0.5 * (1 / np.sqrt(m) + 1 / np.sqrt(n)) ** (1 / 3)
        edge = np.sqrt(m) + np.sqrt(n)
        cells = []
        for kind in ("normal", "uniform", "truncated"):
            z = (np.linalg.svd(draw(rng, kind, (m, n), reps), compute_uv=False)[:, 0] - edge) / tau
            cells.append(f"{kind} mean {z.mean():5.2f} sd {z.std():4.2f} max {z.max():5.2f}")
        print(f"{m:>4}x{n:<4} {reps:>6} draws  " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
