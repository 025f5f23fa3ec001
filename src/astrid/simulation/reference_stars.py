"""A reference catalogue of a simulated field's stars, as a survey would give it.

The stars' true magnitudes with catalogue noise, a fraction of them off by 0.5–1 mag (the
variables, blends and mismatches a real catalogue holds) and, optionally, a colour term:
the catalogue's band differs from the simulated one by ``colour_term × (g − r)``, with
g − r drawn per star. The table has the plain layout `astrid.preprocess.photometric_catalogue`
reads (``ra, dec, r, e_r`` and, with a colour, ``g``), so it can be written to a file.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

__all__ = ["reference_star_table"]


def reference_star_table(
    truth: Table,
    *,
    seed: int = 0,
    noise: float = 0.02,
    outliers: float = 0.0,
    colour_term: float | None = None,
) -> Table:
    """The ``star`` rows of a simulation's truth as an r-band reference catalogue."""
    stars = truth[np.asarray(truth["kind"]).astype(str) == "star"]
    rng = np.random.default_rng(seed)
    n = len(stars)
    mag = np.asarray(stars["mag"], float) + rng.normal(0.0, noise, n)
    bad = rng.random(n) < outliers
    mag[bad] += rng.choice([-1.0, 1.0], int(bad.sum())) * rng.uniform(0.5, 1.0, int(bad.sum()))
    table = Table({"ra": np.asarray(stars["ra"], float), "dec": np.asarray(stars["dec"], float)})
    if colour_term is not None:
        colour = rng.normal(0.6, 0.3, n)
        mag += colour_term * colour
        table["g"] = mag + colour
    table["r"] = mag
    table["e_r"] = np.full(n, noise)
    return table
