"""A small simulated field for alert tests: a pair and three epochs with new sources."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from astrid.simulation import inject_point_sources, simulate_pair
from small_field import SMALL_FIELD


@dataclass(frozen=True)
class Field:
    reference: Path
    frames: list[Path]  # MJD order


def make_field(root: Path) -> Field:
    """Write the reference and three epochs (the 2nd and 3rd with three bright sources)."""
    sim = simulate_pair(SMALL_FIELD, seed=5)
    paths = sim.write(root / "pair")
    xy = np.array([[80.0, 90.0], [200.0, 150.0], [300.0, 280.0]])
    bright = inject_point_sources(sim.science, xy, np.full(3, 2.0e4), sim.science_psf, seed=1)
    header = fits.getheader(paths["science"])
    frames = []
    for k, data in enumerate((sim.science.data, bright.data, bright.data)):
        hdr = header.copy()
        hdr["MJD-OBS"] = 60000.0 + k
        path = root / f"epoch{k}.fits"
        fits.PrimaryHDU(np.asarray(data, dtype=np.float32), header=hdr).writeto(path)
        frames.append(path)
    return Field(paths["reference"], frames)
