"""Report, not a test: how fast one photo's signals are, against the two references.

    .venv/bin/python -m benchmarks.hashing_bench [--quick]

Photo-like JPEGs made in code (:func:`monitor.synthetic.photo_like`, quality 87, never real
imagery) at 1280 x 960 and 2560 x 1920, cached under ``.bench-cache/``. On one pinned core, side by
side in the same rounds (the order rotating between rounds), for each image:

(a) **full decode**: what Pillow needs just to decode the file (``Image.open(...).load()``, RGB);
(b) **naive**: full decode, ``imagehash.phash`` and ``pdqhash.compute`` on the full picture;
(c) **ours**: :func:`monitor.hashing.compute_signals` with the default settings: SHA-256, MD5,
    PDQ with its 8 orientations, pHash, the border search (and trimmed variants when there is a
    border), from one DCT-domain reduced decode;
(d) that **reduced decode** alone, for where the rest of the time goes.

Times are CPU seconds of this process (``time.process_time``), so other load on the machine moves
them less than wall time would; a figure is the median over every image and round, a ratio is the
ratio of those medians, and the spread is the range of the same figure computed per round (each
round times every image once with every method).

Then the **drift** of the reduced decode: how far our PDQ and pHash are from those of the naive
path (the same hash functions on a full decode), in bits, median and maximum over more images;
and the PDQ port against the ``pdqhash`` binding on the very same pixels (expected: 0 bits).
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
import PIL
from PIL import Image

from benchmarks.common import Figure, machine, pin_to_one_core, print_table, versions
from monitor.config import HashingSettings
from monitor.hashing import bits_to_hex, compute_signals, decode_image, hamming, pdq_hashes
from monitor.hashing.signals import REDUCED_MIN_SIDE
from monitor.synthetic import photo_like, to_jpeg

GROUP = "hashing"
QUALITY = 87
CACHE = Path(__file__).resolve().parent.parent / ".bench-cache"


@dataclass(frozen=True, slots=True)
class Params:
    sizes: tuple[tuple[int, int], ...]
    timed_images: int  # images per size in the timing rounds
    rounds: int
    drift_images: int  # images per size for the drift figures (the timed ones among them)


FULL = Params(sizes=((1280, 960), (2560, 1920)), timed_images=6, rounds=7, drift_images=16)
QUICK = Params(sizes=((768, 576),), timed_images=1, rounds=2, drift_images=2)

# The targets, per size: ours / full decode at most, naive / ours at least.
TARGET_VS_DECODE = {(1280, 960): 2.5}
TARGET_VS_NAIVE = {(1280, 960): 3.5, (2560, 1920): 10.0}


def jpeg(size: tuple[int, int], seed: int) -> bytes:
    """A photo-like JPEG, cached by its parameters (and Pillow's version: it encodes it)."""
    width, height = size
    path = CACHE / f"hashing-photo-{width}x{height}-q{QUALITY}-s{seed}-pil{PIL.__version__}.jpg"
    if path.exists():
        return path.read_bytes()
    data = to_jpeg(photo_like(seed, size), QUALITY)
    CACHE.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def full_decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.convert("RGB") if im.mode != "RGB" else im.copy()


def naive(data: bytes) -> tuple[str, str]:
    """The path before reduced decoding, as simply as it can be written."""
    image = full_decode(data)
    phash = str(imagehash.phash(image))
    vector, _quality = pdqhash.compute(np.asarray(image))
    return bits_to_hex(vector), phash


def _ms(seconds: float) -> float:
    return seconds * 1e3


def _range(values: Sequence[float], unit: str = "") -> str:
    return f"{min(values):.2f}-{max(values):.2f}{unit}"


def _timings(
    images: list[bytes], rounds: int, settings: HashingSettings
) -> dict[str, list[list[float]]]:
    """CPU seconds per method, per round, per image (rounds x images)."""
    methods: dict[str, Callable[[bytes], object]] = {
        "decode": full_decode,
        "naive": naive,
        "ours": lambda data: compute_signals(data, settings),
        "reduced": lambda data: decode_image(data, settings, min_side=REDUCED_MIN_SIDE),
    }
    for data in images:  # warm-up: imports, caches, first-touch of buffers
        for run in methods.values():
            run(data)
    times: dict[str, list[list[float]]] = {name: [] for name in methods}
    order = list(methods)
    gc.collect()
    for r in range(rounds):
        rotated = order[r % len(order) :] + order[: r % len(order)]
        per_round: dict[str, list[float]] = {name: [] for name in methods}
        for data in images:
            for name in rotated:
                start = time.process_time()
                methods[name](data)
                per_round[name].append(time.process_time() - start)
        for name in methods:
            times[name].append(per_round[name])
    return times


def _size_figures(size: tuple[int, int], params: Params) -> list[Figure]:
    width, height = size
    label = f"{width}x{height} JPEG q{QUALITY}"
    settings = HashingSettings()
    images = [jpeg(size, seed) for seed in range(params.drift_images)]
    probe = decode_image(images[0], settings, min_side=REDUCED_MIN_SIDE)
    reduced = f"1/{probe.scale}: {probe.image.width}x{probe.image.height}"

    times = _timings(images[: params.timed_images], params.rounds, settings)
    images_timed = f"{params.timed_images} image{'s' if params.timed_images > 1 else ''}"
    flat = {name: [t for rnd in per for t in rnd] for name, per in times.items()}
    median = {name: statistics.median(values) for name, values in flat.items()}

    def spread(name: str) -> str:
        per = [_ms(statistics.median(rnd)) for rnd in times[name]]
        return f"per round {_range(per, ' ms')} over {params.rounds} rounds of {images_timed}"

    def per_round(top: str, bottom: str) -> list[float]:
        return [
            statistics.median(times[top][r]) / statistics.median(times[bottom][r])
            for r in range(params.rounds)
        ]

    vs_decode = median["ours"] / median["decode"]
    vs_naive = median["naive"] / median["ours"]
    decode_target = TARGET_VS_DECODE.get(size)
    naive_target = TARGET_VS_NAIVE.get(size)
    rounds_note = f"per round {{}} over {params.rounds} rounds of {images_timed}"
    figures = [
        Figure(
            GROUP,
            f"(a) Pillow full decode, {label}",
            _ms(median["decode"]),
            "ms",
            None,
            None,
            spread("decode"),
        ),
        Figure(
            GROUP,
            f"(b) naive: full decode + phash + pdqhash, {label}",
            _ms(median["naive"]),
            "ms",
            None,
            None,
            spread("naive"),
        ),
        Figure(
            GROUP,
            f"(c) all signals, reduced decode ({reduced}), {label}",
            _ms(median["ours"]),
            "ms",
            None,
            None,
            spread("ours"),
        ),
        Figure(
            GROUP,
            f"(d) the reduced decode alone ({reduced}), {label}",
            _ms(median["reduced"]),
            "ms",
            None,
            None,
            spread("reduced"),
        ),
        Figure(
            GROUP,
            f"all signals / full decode, {label}",
            vs_decode,
            "x",
            None if decode_target is None else f"<= {decode_target}x",
            None if decode_target is None else vs_decode <= decode_target,
            rounds_note.format(_range(per_round("ours", "decode"))),
        ),
        Figure(
            GROUP,
            f"naive / all signals (speed-up), {label}",
            vs_naive,
            "x",
            None if naive_target is None else f">= {naive_target:g}x",
            None if naive_target is None else vs_naive >= naive_target,
            rounds_note.format(_range(per_round("naive", "ours"))),
        ),
    ]

    # drift of the reduced decode against the naive path, and the port against the binding
    pdq_drift, phash_drift, port = [], [], []
    for data in images:
        ours = compute_signals(data, settings)
        assert ours.pdq is not None, ours.failure
        assert ours.phash is not None, ours.failure
        reference_pdq, reference_phash = naive(data)
        pdq_drift.append(hamming(ours.pdq, reference_pdq))
        phash_drift.append(hamming(ours.phash, reference_phash))
        pixels = np.asarray(decode_image(data, settings, min_side=REDUCED_MIN_SIDE).image)
        vector, _quality = pdqhash.compute(pixels)
        port.append(hamming(pdq_hashes(pixels, dihedral=False).original, bits_to_hex(vector)))
    over = f"over {len(images)} images"
    figures += [
        Figure(
            GROUP,
            f"PDQ drift vs full decode, median, {label}",
            statistics.median(pdq_drift),
            "bits",
            None,
            None,
            f"min {min(pdq_drift)}, max {max(pdq_drift)} {over}",
        ),
        Figure(
            GROUP,
            f"PDQ drift vs full decode, max, {label}",
            max(pdq_drift),
            "bits",
            None,
            None,
            over,
        ),
        Figure(
            GROUP,
            f"pHash drift vs full decode, median, {label}",
            statistics.median(phash_drift),
            "bits",
            None,
            None,
            f"min {min(phash_drift)}, max {max(phash_drift)} {over}",
        ),
        Figure(
            GROUP,
            f"pHash drift vs full decode, max, {label}",
            max(phash_drift),
            "bits",
            None,
            None,
            over,
        ),
        Figure(
            GROUP,
            f"PDQ port vs pdqhash, same pixels, max, {label}",
            max(port),
            "bits",
            None,
            None,
            over,
        ),
    ]
    return figures


def figures(quick: bool) -> list[Figure]:
    params = QUICK if quick else FULL
    # one core while measuring; then the CPUs we had (the suite runs other benchmarks after us)
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    pin_to_one_core()
    try:
        found: list[Figure] = []
        for size in params.sizes:
            found += _size_figures(size, params)
        return found
    finally:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny inputs: checks that it runs")
    args = parser.parse_args()
    print(machine())
    print(versions())
    print("one pinned core, CPU time per image")
    print_table(figures(args.quick))


if __name__ == "__main__":
    main()
