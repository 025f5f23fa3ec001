"""Seeded sky simulator, detector artifacts and fake injection, all with truth tables.

The simulator draws one patch of sky (stars, galaxies) and observes it twice: a deep
*reference* (template) and a shallower *science* image taken later, each with its own TAN
WCS, its own spatially varying PSF and its own noise. The science image additionally holds
the changes a difference-imaging pipeline must find (``transient``,
``transient_on_galaxy``), real changes it should report but which are not new objects
(``variable``) and detector artifacts it must reject (``cosmic_ray``, ``hot_pixel``,
``bad_column``, ``satellite_trail``). Every injected object is listed in a truth table in the
format of the reference scorer (``kind, ra, dec, x, y, flux, snr``).

Conventions
-----------
- Pixels are 0-based with pixel centres on integers; arrays are indexed ``[y, x]``, tables
  and positions are ``(x, y)``. Truth ``x, y`` are science-image pixels, ``ref_x, ref_y``
  reference-image pixels, both from the images' own WCS (``world_to_pixel``).
- Sky positions are degrees ICRS.
- Fluxes are total ADU in the *science* image unless a column says otherwise. The reference
  sees every flux multiplied by ``config.reference_flux_scale`` (it is treated as an exposure
  that many times longer, ``EXPTIME`` scaled alike, under a sky of ``sky_reference`` ADU);
  that scale is chosen so that the reference's background noise, expressed in science flux
  units, is ``reference_depth`` times lower than the science image's.
- ``snr`` is the matched-filter signal-to-noise of an object's own added signal ``s`` on the
  science image's white background noise, ``sqrt(sum(s**2)) / sigma_pix``; for a point source
  of flux ``F`` and unit-sum pixelised PSF ``P`` that is ``F * sqrt(sum(P**2)) / sigma_pix``,
  with ``sigma_pix = sqrt(sky * gain + read_noise**2) / gain``. For variables it carries the
  sign of the flux change.
- Magnitudes use the science zero point ``SCIENCE_ZERO_POINT`` (mag of 1 ADU).
- Images are float32 ADU with the sky *included*; their masks are all False: finding bad
  pixels is the pipeline's job.

Every random step draws from its own stream (spawned from the seed), so a step's draws do
not depend on how many another step made.

Modules
-------
``pair``        `simulate_pair`, `SimulatedPair`: the whole pair with its truth
``sequence``    `simulate_sequence`: a reference and many epochs of a changing sky
``config``      `SimulationConfig`, `ArtifactConfig`
``psf_field``   `MoffatPSFField`: the spatially varying PSF
``artifacts``   `add_artifacts`: detector artifacts on any image
``injection``   `inject_point_sources`, `inject_fakes`, `quiet_sky`: fakes on any image
``truth``       the truth table's columns and kinds

Examples
--------
>>> from astrid.simulation import SimulationConfig, simulate_pair
>>> pair = simulate_pair(SimulationConfig(shape=(256, 256), n_stars=60, n_galaxies=10,
...                                       n_transients=10, n_transients_on_galaxies=2),
...                      seed=1)
>>> pair.science.shape
(256, 256)
>>> int((pair.truth["kind"] == "transient").sum())
10
"""

from astrid.simulation.artifacts import add_artifacts
from astrid.simulation.config import SCIENCE_ZERO_POINT, ArtifactConfig, SimulationConfig
from astrid.simulation.injection import (
    Injection,
    PositionalPSF,
    inject_fakes,
    inject_point_sources,
    quiet_sky,
)
from astrid.simulation.pair import SimulatedPair, simulate_pair
from astrid.simulation.psf_field import MoffatPSFField
from astrid.simulation.sequence import SequenceConfig, SimulatedSequence, simulate_sequence
from astrid.simulation.truth import ARTIFACT_KINDS, TRUTH_COLUMNS, TRUTH_KINDS

__all__ = [
    "ARTIFACT_KINDS",
    "SCIENCE_ZERO_POINT",
    "TRUTH_COLUMNS",
    "TRUTH_KINDS",
    "ArtifactConfig",
    "Injection",
    "MoffatPSFField",
    "PositionalPSF",
    "SequenceConfig",
    "SimulatedPair",
    "SimulatedSequence",
    "SimulationConfig",
    "add_artifacts",
    "inject_fakes",
    "inject_point_sources",
    "quiet_sky",
    "simulate_pair",
    "simulate_sequence",
]
