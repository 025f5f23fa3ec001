"""Match candidates to a truth table and score them, with the reference scorer's definitions.

The definitions match ``shared/eval/score.py`` (the project's reference): truth and
candidates are matched on the sky within 1.5″; completeness is the fraction of injected
transients (``kind`` starting with ``transient``) with a candidate; efficiency is
completeness divided by the mean matched-filter optimum Φ(SNR − 5) of the injections;
bogus candidates are those that match no transient and are not within 2″ of a
``variable``; flux ratio and astrometry are measured on recovered injections of SNR ≥ 20.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from scipy.stats import norm

__all__ = ["SNR_BINS", "match_to_truth"]

SNR_BINS = (3, 4, 5, 6, 7, 8, 10, 12, 20, 60)


def _as_str(column: Any) -> np.ndarray:
    return np.asarray([str(v) for v in column])


def match_to_truth(
    truth: Table, candidates: Table, *, radius_arcsec: float = 1.5
) -> dict[str, Any]:
    """Completeness, efficiency vs the optimum, bogus count, photometry and astrometry.

    Parameters
    ----------
    truth : Table
        Columns ``kind, ra, dec, x, y, flux, snr``.
    candidates : Table
        Needs ``ra, dec``; uses ``flux``.
    radius_arcsec : float
        Match radius.

    Returns
    -------
    dict
        The same keys as the reference scorer's JSON report (without the ML keys), plus
        ``found`` (bool per transient row, in truth order) for plotting.
    """
    report: dict[str, Any] = {"n_candidates": len(candidates)}
    kinds = _as_str(truth["kind"])
    is_tr = np.char.startswith(kinds, "transient")
    tr = truth[is_tr]
    snr = np.asarray(tr["snr"], float)
    n_tr = len(tr)
    found = np.zeros(n_tr, bool)
    cand_idx = np.full(n_tr, -1)
    sep_arcsec = np.full(n_tr, np.inf)
    if len(candidates) and n_tr:
        cc = SkyCoord(
            np.asarray(candidates["ra"], float) * u.deg,
            np.asarray(candidates["dec"], float) * u.deg,
        )
        tc = SkyCoord(np.asarray(tr["ra"], float) * u.deg, np.asarray(tr["dec"], float) * u.deg)
        idx, sep, _ = tc.match_to_catalog_sky(cc)
        sep_arcsec = sep.arcsec
        found = sep_arcsec < radius_arcsec
        cand_idx = np.where(found, idx, -1)
    rows = []
    for lo, hi in itertools.pairwise(SNR_BINS):
        m = (snr >= lo) & (snr < hi)
        if not m.any():
            continue
        rows.append(
            {
                "snr": f"{lo}-{hi}",
                "n": int(m.sum()),
                "completeness": float(found[m].mean()),
                "optimum": float(np.mean(norm.cdf(snr[m] - 5.0))),
            }
        )
    report["completeness"] = rows
    ge8 = snr >= 8
    report["completeness_snr_ge_8"] = float(found[ge8].mean()) if ge8.any() else float("nan")
    optimum = float(np.mean(norm.cdf(snr - 5.0))) if n_tr else float("nan")
    report["completeness_all"] = float(found.mean()) if n_tr else float("nan")
    report["optimum_all"] = optimum
    report["efficiency_vs_optimum"] = report["completeness_all"] / optimum if n_tr else float("nan")
    on_gal = np.char.find(_as_str(tr["kind"]), "galaxy") >= 0
    report["completeness_on_galaxy_snr_ge_8"] = (
        float(found[on_gal & ge8].mean()) if (on_gal & ge8).any() else None
    )
    n_c = len(candidates)
    is_real = np.zeros(n_c, bool)
    is_real[cand_idx[found]] = True
    var_match = np.zeros(n_c, bool)
    known = np.isfinite(np.asarray(truth["ra"], float))
    if n_c and known.any():
        tk = truth[known]
        tkc = SkyCoord(np.asarray(tk["ra"], float) * u.deg, np.asarray(tk["dec"], float) * u.deg)
        cc = SkyCoord(
            np.asarray(candidates["ra"], float) * u.deg,
            np.asarray(candidates["dec"], float) * u.deg,
        )
        cidx, csep, _ = cc.match_to_catalog_sky(tkc)
        var_match = (csep.arcsec < 2.0) & (_as_str(tk["kind"])[cidx] == "variable")
    bogus = ~is_real & ~var_match
    report["n_real_matched"] = int(is_real.sum())
    report["n_variable_matched"] = int(var_match.sum())
    report["n_bogus"] = int(bogus.sum())
    report["purity"] = float((is_real | var_match).sum() / n_c) if n_c else float("nan")
    bright = found & (snr >= 20)
    if bright.any() and "flux" in candidates.colnames:
        ratio = (
            np.asarray(candidates["flux"], float)[cand_idx[bright]]
            / np.asarray(tr["flux"], float)[bright]
        )
        report["flux_ratio_median_snr_ge_20"] = float(np.median(ratio))
        report["flux_ratio_mad_snr_ge_20"] = float(np.median(np.abs(ratio - np.median(ratio))))
    if bright.any():
        report["astrometry_rms_arcsec_snr_ge_20"] = float(np.sqrt(np.mean(sep_arcsec[bright] ** 2)))
    if bright.any() and {"x", "y", "x_err", "y_err"} <= set(candidates.colnames):
        report.update(_pull_widths(tr[bright], candidates[cand_idx[bright]]))
    report["found"] = found.tolist()
    report["bogus_mask"] = bogus.tolist()
    return report


def _pull_widths(truth: Table, matched: Table) -> dict[str, list[float]]:
    """Widths of (measured − true position) / quoted error, per axis: robust (1.4826 MAD
    about 0, so a blend's outlier does not decide it) and plain standard deviation."""
    robust, plain = [], []
    for axis in ("x", "y"):
        with np.errstate(invalid="ignore", divide="ignore"):
            pull = (np.asarray(matched[axis], float) - np.asarray(truth[axis], float)) / np.asarray(
                matched[f"{axis}_err"], float
            )
        pull = pull[np.isfinite(pull)]
        robust.append(float(1.4826 * np.median(np.abs(pull))) if pull.size else float("nan"))
        plain.append(float(np.std(pull)) if pull.size else float("nan"))
    return {
        "astrometry_pull_width_snr_ge_20": robust,
        "astrometry_pull_std_snr_ge_20": plain,
    }
