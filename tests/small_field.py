"""The small simulated field shared by the pipeline, report and CLI tests.

384² is the smallest field that still has enough bright stars to align the pair and model
the PSF, so end-to-end tests stay fast.
"""

from dataclasses import replace

from astrid.simulation import SimulationConfig

SMALL_FIELD = SimulationConfig(
    shape=(384, 384),
    n_stars=150,
    n_galaxies=10,
    n_transients=12,
    n_transients_on_galaxies=2,
    n_variables=4,
    n_cosmic_rays=6,
    n_hot_pixels=4,
    n_bad_columns=1,
)

#: The same field with nothing that changes (no transients or variables) and no bad column:
#: epochs of it stack into a reference (`astrid coadd`).
STATIC_FIELD = replace(
    SMALL_FIELD,
    n_transients=0,
    n_transients_on_galaxies=0,
    n_variables=0,
    n_bad_columns=0,
    n_hot_pixels=3,
)
