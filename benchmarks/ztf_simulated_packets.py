"""Broker mode on simulated ZTF-layout packets: AstrID's rb from packets vs from the frames.

For each seed: simulate a field with known transients (`astrid.simulation`), run prepare +
ZOGY and score every candidate with the shipped real/bogus model on the frames (the
pipeline's own rb, with every frame-level feature). Then write each candidate as a
ZTF-layout packet (`astrid.ingest.ztf_layout`: its three 63×63 stamps as gzip FITS, ra,
dec, magpsf, sigmapsf, isdiffpos, fwhm, and the frame rb in the packet's ``rb`` field, the
place of the survey's own score) and ingest the packets with `IngestStage` — no frames
behind them — so AstrID re-scores them from what a packet carries.

A simulated packet has no survey model behind it; its "survey score" is AstrID's frame-level
score, so the comparison measures what scoring from packets alone loses. Both scores are
checked against the truth: a candidate is real when it matches an injected transient within
1.5″ (the reference scorer's rule); candidates on a simulated variable star are left out
(neither real transient nor bogus). Prints rank correlation, score differences, ROC AUC of
each score and, at the model card's operating threshold, the fraction of real candidates
kept and the bogus ones let through.

    python benchmarks/ztf_simulated_packets.py [--seeds 0 1 2] [--out FILE.md]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from markdown_report import machine_line, write_report
from scipy.stats import mannwhitneyu, spearmanr
from scratch_catalog import scratch_catalog

from astrid.detection.realbogus import RealBogusModel
from astrid.difference.subtract import subtract
from astrid.ingest.ztf_layout import write_ztf_packets, ztf_packet
from astrid.pipeline.ingest_stage import IngestStage
from astrid.pipeline.scoring import resolve_model
from astrid.preprocess.pair import prepare_pair
from astrid.simulation import SimulationConfig, simulate_pair

MATCH_ARCSEC = 1.5
VARIABLE_ARCSEC = 2.0


def labels(truth: Table, candidates: Table) -> np.ndarray:
    """Per candidate: 1 real (a transient within 1.5″), 0 bogus, -1 on a variable star."""
    out = np.zeros(len(candidates), int)
    if not len(candidates):
        return out
    cc = SkyCoord(np.asarray(candidates["ra"]) * u.deg, np.asarray(candidates["dec"]) * u.deg)
    kinds = np.asarray([str(k) for k in truth["kind"]])
    for kind_is, radius, value in (
        (np.char.startswith(kinds, "transient"), MATCH_ARCSEC, 1),
        (kinds == "variable", VARIABLE_ARCSEC, -1),
    ):
        rows = truth[kind_is]
        if not len(rows):
            continue
        tc = SkyCoord(np.asarray(rows["ra"]) * u.deg, np.asarray(rows["dec"]) * u.deg)
        _, sep, _ = cc.match_to_catalog_sky(tc)
        out[(sep.arcsec < radius) & (out == 0)] = value
    return out


def field_packets(seed: int, size: int, model: RealBogusModel) -> list[dict[str, Any]]:
    """One ZTF-layout packet per candidate of a simulated field, with its truth label."""
    sim = simulate_pair(SimulationConfig(shape=(size, size)), seed=seed)
    result = subtract(prepare_pair(sim.science, sim.reference))
    cand = result.candidates
    rb = model.score(cand, result.cutouts).rb
    truth = labels(sim.truth, cand)
    jd = float(sim.science.header["MJD-OBS"]) + 2400000.5
    zero_point = float(sim.science.header["MAGZP"])
    out = []
    for i in range(len(cand)):
        flux, flux_err = float(cand["flux"][i]), float(cand["flux_err"][i])
        magpsf = zero_point - 2.5 * np.log10(max(abs(flux), 1e-3))
        packet = ztf_packet(
            seed * 1_000_000 + i,
            stamps=list(result.cutouts[i]),
            jd=jd,
            pid=seed,
            ra=float(cand["ra"][i]),
            dec=float(cand["dec"][i]),
            magpsf=float(magpsf),
            sigmapsf=float(1.0857 * flux_err / max(abs(flux), 1e-3)),
            isdiffpos="t" if cand["sign"][i] > 0 else "f",
            fwhm=float(cand["fwhm"][i]) if np.isfinite(cand["fwhm"][i]) else None,
            rb=float(rb[i]),
            drb=None,
            sgscore1=None,
        )
        packet["objectId"] = f"SIM{seed:02d}{i:07d}"
        packet["truth"] = int(truth[i])
        out.append(packet)
    return out


def auc(score: np.ndarray, real: np.ndarray) -> float:
    """ROC AUC: the chance a real candidate scores above a bogus one."""
    u_stat = mannwhitneyu(score[real], score[~real]).statistic
    return float(u_stat / (real.sum() * (~real).sum()))


def at_threshold(score: np.ndarray, real: np.ndarray, threshold: float) -> str:
    kept = score > threshold
    return (
        f"{kept[real].mean():.3f} of real kept, {int(kept[~real].sum())} of "
        f"{int((~real).sum())} bogus let through"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with scratch_catalog() as (catalog, store, root):
        scoring = resolve_model(catalog, store)
        model = RealBogusModel.load(Path(scoring.path))
        truth: dict[int, int] = {}
        (root / "packets").mkdir()
        for seed in args.seeds:
            made = field_packets(seed, args.size, model)
            truth.update({p["candid"]: p.pop("truth") for p in made})
            write_ztf_packets(root / "packets" / f"seed{seed}.avro", made)
        report = IngestStage(catalog, store, model=scoring).ingest([root / "packets"])
        rows = list(catalog.candidates())
    threshold = float(model.card.get("operating_threshold") or 0.5)
    source = np.array([int(c["source_id"]) for c in rows])
    frame = np.array([c["survey_score"] for c in rows], float)
    packet = np.array([c["rb"] for c in rows], float)
    label = np.array([truth[s] for s in source])
    keep = label >= 0
    real = label[keep] == 1
    frame, packet = frame[keep], packet[keep]
    diff = np.abs(packet - frame)
    lines = [
        machine_line(
            "python benchmarks/ztf_simulated_packets.py "
            f"--seeds {' '.join(map(str, args.seeds))} --size {args.size}"
        ),
        "",
        f"{report.read} packets from {len(args.seeds)} simulated {args.size}² fields, "
        f"{report.stored} stored, {len(report.problems)} problems; {int(real.sum())} real "
        f"(an injected transient within {MATCH_ARCSEC}″), {int((~real).sum())} bogus, "
        f"{int((label < 0).sum())} on variable stars left out. Operating threshold "
        f"{threshold:.2f} (model card).",
        "",
        "| score | ROC AUC vs truth | at the operating threshold |",
        "|---|---|---|",
        f"| frame rb (packet's `rb` field) | {auc(frame, real):.3f} "
        f"| {at_threshold(frame, real, threshold)} |",
        f"| AstrID rb re-scored from the packet | {auc(packet, real):.3f} "
        f"| {at_threshold(packet, real, threshold)} |",
        "",
        f"Spearman rank correlation, packet rb vs frame rb: "
        f"{spearmanr(packet, frame).statistic:.3f}; |Δrb| median {np.median(diff):.3f}, "
        f"95th percentile {np.percentile(diff, 95):.3f}; the two agree on the side of the "
        f"threshold for {np.mean((packet > threshold) == (frame > threshold)):.3f} of "
        "candidates.",
    ]
    if report.problems:
        lines += ["", "Problems:", *(f"- {p.message}" for p in report.problems[:10])]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
