"""Context classes at real catalogue positions: the confusion matrix of the rule set.

Installs the offline catalogues from the fink-science wheel (a path, or the package index),
then places simulated objects at real positions and runs the same context code the
pipeline runs (`crossmatch`, `find_reference_sources` on a reference image,
`assign_hosts`, `on_bright_star`, `classify`):

* variable_star — a VSX star's position (0.2″ astrometric scatter), the star in the
  reference image as a point source;
* agn — a 4LAC blazar's counterpart position (0.2″ scatter), a point source underneath;
* supernova_candidate — a Mangrove galaxy drawn in a reference image at its position
  (elliptical exponential-like profile, random size and orientation), the transient
  offset 0.5–2 DLR along a random direction;
* nuclear — a Mangrove galaxy with the transient within 0.2″ of its core;
* orphan — random positions ≥ 2′ from every catalogue entry, empty reference.

Each reference image is a 201² cutout (0.5″ pixels, TAN WCS at the position, Gaussian
noise), so host finding meets noise and blending honestly.

    python benchmarks/context_classes.py [WHEEL] [--per-class 100] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
from astropy.wcs import WCS

from astrid.context import (
    assign_hosts,
    classify,
    crossmatch,
    find_reference_sources,
    install_catalogues,
    load_catalogues,
    on_bright_star,
)

SIZE, SCALE, NOISE, FWHM = 201, 0.5, 1.0, 3.0
CLASSES = ("variable_star", "agn", "supernova_candidate", "nuclear", "orphan")


def _wcs(ra: float, dec: float) -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [(SIZE + 1) / 2, (SIZE + 1) / 2]
    w.wcs.cdelt = [-SCALE / 3600, SCALE / 3600]
    return w


def _image(rng: np.random.Generator, point: bool, galaxy: tuple[float, float, float] | None):
    """Noise, plus a point source or a galaxy (a, b in pixels, pa radians) at the centre."""
    y, x = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    image = rng.normal(0, NOISE, (SIZE, SIZE))
    sigma = FWHM / 2.355
    if point:
        image += 400 * np.exp(-(x**2 + y**2) / (2 * sigma**2))
    if galaxy is not None:
        a, b, pa = galaxy
        u = x * np.cos(pa) + y * np.sin(pa)
        v = -x * np.sin(pa) + y * np.cos(pa)
        image += 60 * np.exp(-np.sqrt((u / a) ** 2 + (v / b) ** 2))
    return image


def _sample(catalogue, n: int, rng: np.random.Generator) -> np.ndarray:  # type: ignore[no-untyped-def]
    return rng.choice(len(catalogue.ra), size=min(n, len(catalogue.ra)), replace=False)


def run(directory: Path, per_class: int, seed: int) -> np.ndarray:
    catalogues, problems = load_catalogues(directory)
    assert not problems, problems
    by_name = {c.spec.name: c for c in catalogues}
    rng = np.random.default_rng(seed)
    confusion = np.zeros((len(CLASSES), len(CLASSES) + 1), dtype=int)  # last column: other
    for truth in CLASSES:
        for _ in range(per_class):
            if truth == "variable_star":
                cat = by_name["vsx"]
                i = _sample(cat, 1, rng)[0]
                ra, dec, image = cat.ra[i], cat.dec[i], _image(rng, True, None)
            elif truth == "agn":
                cat = by_name["4lac"]
                i = _sample(cat, 1, rng)[0]
                ra, dec, image = cat.ra[i], cat.dec[i], _image(rng, True, None)
            elif truth == "orphan":
                while True:
                    ra, dec = rng.uniform(0, 360), np.degrees(np.arcsin(rng.uniform(-1, 1)))
                    near = crossmatch(catalogues, np.array([ra]), np.array([dec]))[0]
                    if not near:
                        break
                image = _image(rng, False, None)
            else:
                cat = by_name["mangrove"]
                i = _sample(cat, 1, rng)[0]
                ra, dec = cat.ra[i], cat.dec[i]
                a = rng.uniform(4, 12)
                image = _image(rng, False, (a, a * rng.uniform(0.4, 1.0), rng.uniform(0, np.pi)))
            wcs = _wcs(float(ra), float(dec))
            sources = find_reference_sources(image, wcs, psf_fwhm_px=FWHM, background_rms=NOISE)
            # the object: near the catalogue position, or offset in its host
            ox = oy = (SIZE - 1) / 2
            if truth in ("variable_star", "agn", "nuclear"):
                ox += rng.normal(0, 0.2 / SCALE)
                oy += rng.normal(0, 0.2 / SCALE)
            elif truth == "supernova_candidate":
                angle = rng.uniform(0, 2 * np.pi)
                # DLR along the direction is unknown before: step out until 0.5–2 DLR
                target = rng.uniform(0.5, 2.0)
                r, tx, ty = 0.25, ox, oy
                while r < 40:
                    tx, ty = ox + r * np.cos(angle), oy + r * np.sin(angle)
                    s = wcs.pixel_to_world(tx, ty)
                    h = assign_hosts(sources, np.array([s.ra.deg]), np.array([s.dec.deg]))[0]
                    if h is not None and h.dlr >= target:
                        break
                    r += 0.25
                ox, oy = tx, ty
            pos = wcs.pixel_to_world(ox, oy)
            ora, odec = np.array([pos.ra.deg]), np.array([pos.dec.deg])
            matches = crossmatch(catalogues, ora, odec)[0]
            host = assign_hosts(sources, ora, odec)[0]
            bright = bool(on_bright_star(sources, ora, odec)[0]) if len(sources) else False
            galaxy = None
            if host is not None:
                found = crossmatch(
                    [by_name["mangrove"]], np.array([host.ra]), np.array([host.dec])
                )[0]
                galaxy = found[0] if found else None
            object_matches = [m for m in matches if m.kind != "galaxy"]
            if galaxy is not None:
                object_matches.append(galaxy)
            decision = classify(object_matches, host, on_bright_star=bright)
            got = decision.context_class
            column = CLASSES.index(got) if got in CLASSES else len(CLASSES)
            confusion[CLASSES.index(truth), column] += 1
    return confusion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wheel", nargs="?", type=Path, default=None)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        install_catalogues(args.wheel, Path(tmp))
        confusion = run(Path(tmp), args.per_class, args.seed)
    correct = np.trace(confusion[:, : len(CLASSES)]) / confusion.sum()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"Machine: {machine}. Command: `python benchmarks/context_classes.py WHEEL "
        f"--per-class {args.per_class} --seed {args.seed}`.",
        "",
        "| truth \\ class | " + " | ".join(CLASSES) + " | other |",
        "|---" * (len(CLASSES) + 2) + "|",
    ]
    for i, truth in enumerate(CLASSES):
        lines.append(f"| {truth} | " + " | ".join(str(v) for v in confusion[i]) + " |")
    lines += ["", f"Correct: {correct:.3f} (target ≥ 0.95)."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
