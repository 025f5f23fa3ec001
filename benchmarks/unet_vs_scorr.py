"""U-Net detector against S_corr thresholding on the same simulated fields (and the GOTO pair).

On the TEST fields of a training set (PSF widths no training field has), for

(a) S_corr peaks, |S_corr| ≥ 5 (the pipeline's detector: `find_peaks`, merge radius
    1 FWHM);
(b) U-Net probability peaks (`unet_peaks`) at the threshold chosen on the VAL fields to
    give the same false candidates per frame as (a) there; at p ≥ 0.5; and at the val
    threshold matching (a)'s false rate without its satellite-trail peaks (as if every
    trail were masked),

it reports completeness per true-SNR bin (a real change is found when a candidate lies
within 3 px) and false candidates per frame (a candidate not within 3 px of any real
change), named by what they sit on (the simulation is re-run for the full truth; the
labelling rules of `astrid.training.labels`). Both detectors look at the same pixels:
those the field's ``map_mask`` leaves (unmasked, on the reference footprint); a threshold
sweep of both goes into the JSON. ``--real`` adds the real GOTO pair of the ``zogyp``
wheel (fake recovery, candidates of the fake-free run). It also times U-Net inference
on a 1024² and a 4096² frame (the 1024² test field tiled 4×4).

    python benchmarks/unet_vs_scorr.py --set /work/ml/sets/28ffa2be9c4737ab \
        --real --stamp --operating unet_p_0.5

``--stamp`` writes the measured metrics and the threshold of the ``--operating`` point
into the model card (the detector's default threshold).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table, vstack
from scipy.spatial import cKDTree

from astrid.detection.unet_detect import UNetDetector, shipped_unet_path, unet_peaks
from astrid.difference.peaks import find_peaks
from astrid.simulation import SimulationConfig, simulate_pair
from astrid.training import (
    REAL_KINDS,
    KnownSources,
    TrainingSetConfig,
    field_specs,
    label_candidates,
)

MATCH_RADIUS = 3.0
SNR_BINS = (3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 40.0)
SCORR_THRESHOLD = 5.0
SCORR_FLOOR = 4.0  # lowest |S_corr| kept for the sweep
FLOOR = 0.02  # lowest U-Net threshold kept for the sweep
SCORR_SWEEP = (4.0, 4.5, 5.0, 5.5, 6.0, 7.0, 8.0, 10.0)
UNET_SWEEP = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


def field_files(directory: Path, split: str) -> list[tuple[Path, float]]:
    """Field files of `split` with their science FWHM (px) from the manifest."""
    units = json.loads((directory / "manifest.json").read_text())["units"]
    return [
        (directory / "fields" / f"{u['name']}.npz", float(u["science_fwhm"][0]))
        for u in units
        if u["kind"] == "simulated" and u["split"] == split
    ]


def near(points: np.ndarray, others: np.ndarray, radius: float) -> np.ndarray:
    """Whether each of `points` has one of `others` within `radius`."""
    if len(points) == 0 or len(others) == 0:
        return np.zeros(len(points), bool)
    dist, _ = cKDTree(others).query(points, distance_upper_bound=radius)
    return np.isfinite(dist)


def simulated_truth(directory: Path) -> dict[str, KnownSources]:
    """Full truth (stars, galaxies, artifacts) of each simulated field, re-simulated.

    The field files keep only the real changes; to name what a false candidate sits on,
    the simulation is re-run from the unit's seed with the recipe of
    `astrid.training.field` (checked: its real positions must equal the file's).
    """
    manifest = json.loads((directory / "manifest.json").read_text())
    names = {f.name for f in dataclasses.fields(TrainingSetConfig)}
    raw = {k: v for k, v in manifest["config"].items() if k in names}
    raw["shape"] = tuple(raw["shape"])
    raw["variants"] = tuple(raw["variants"])
    raw["real_pairs"] = tuple(tuple(pair) for pair in raw["real_pairs"])
    config = TrainingSetConfig(**raw)
    out: dict[str, KnownSources] = {}
    for spec in field_specs(config):
        if spec.kind != "simulated" or spec.split == "train":
            continue
        p = spec.params
        sim = simulate_pair(
            SimulationConfig(
                shape=config.shape,
                science_fwhm=tuple(p["science_fwhm"]),
                reference_fwhm=tuple(p["reference_fwhm"]),
                moffat_beta=p["moffat_beta"],
                ellipticity=p["ellipticity"],
                reference_depth=p["reference_depth"],
                n_stars=p["n_stars"],
                n_galaxies=p["n_galaxies"],
                n_transients=100,
                n_transients_on_galaxies=30,
                n_variables=20,
                n_cosmic_rays=60,
                n_hot_pixels=40,
                n_bad_columns=3,
                n_satellite_trails=2,
                trail_sigma=(1.0, 6.0),
            ),
            seed=spec.seed,
        )
        truth = sim.truth
        kind = np.asarray(truth["kind"]).astype(str)
        real = truth[np.isin(kind, REAL_KINDS)]
        with np.load(directory / "fields" / f"{spec.name}.npz") as data:
            xy = data["map_truth_xy"].astype(float)
        mine = np.column_stack([np.asarray(real["x"], float), np.asarray(real["y"], float)])
        if len(mine) > len(xy) or np.max(np.abs(xy[: len(mine)] - mine), initial=0) > 1e-3:
            raise SystemExit(f"{spec.name}: re-simulated truth differs from the field file")
        # The transients next to stars are added after simulation: take them from the file.
        extra = Table({"kind": ["transient_near_star"] * (len(xy) - len(mine)),
                       "x": xy[len(mine) :, 0], "y": xy[len(mine) :, 1]})  # fmt: skip
        out[spec.name] = KnownSources(vstack([truth[["kind", "x", "y", "length", "angle"]], extra]))
    return out


def _detector(
    xy: np.ndarray, score: np.ndarray, truth_xy: np.ndarray, known: KnownSources | None
) -> dict[str, Any]:
    """Candidates of one detector on one field: scores, false flags, kinds, best per truth."""
    best = np.zeros(len(truth_xy))
    if len(xy) and len(truth_xy):
        for i, js in enumerate(cKDTree(xy).query_ball_point(truth_xy, MATCH_RADIUS)):
            if js:
                best[i] = score[js].max()
    false = ~near(xy, truth_xy, MATCH_RADIUS)
    kinds = np.full(len(xy), "unknown", dtype="<U24")
    if known is not None and len(xy):
        kinds = label_candidates(xy[:, 0], xy[:, 1], known)
    return {"score": score, "false": false, "kinds": kinds, "best": best}


def run_field(
    detector: UNetDetector, path: Path, fwhm: float, known: KnownSources | None
) -> dict[str, Any]:
    """Candidates of both detectors on one field (at their sweep floors), matched to truth."""
    with np.load(path) as data:
        s = data["map_score_corr"].astype(np.float32)
        d = data["map_difference"].astype(np.float32)
        mask = data["map_mask"]
        truth_xy = data["map_truth_xy"].astype(float)
        truth_snr = data["map_truth_snr"].astype(float)
    pk = find_peaks(s, threshold=SCORR_FLOOR, merge_radius=fwhm, valid=~mask)
    s_xy = np.column_stack([pk.x, pk.y]).astype(float)
    start = time.perf_counter()
    prob = detector.probability(s, d, mask)
    seconds = time.perf_counter() - start
    up = unet_peaks(prob, mask, FLOOR)
    u_xy = np.column_stack([np.asarray(up["x"]), np.asarray(up["y"])]).astype(float)
    return {
        "name": path.stem,
        "fwhm": fwhm,
        "truth_snr": truth_snr,
        "scorr": _detector(s_xy, np.abs(pk.scorr), truth_xy, known),
        "unet": _detector(u_xy, np.asarray(up["prob"], float), truth_xy, known),
        "seconds": seconds,
    }


def matched_threshold(fields: list[dict[str, Any]], target: float) -> float:
    """Lowest U-Net threshold whose false candidates per frame are ≤ `target`."""
    false = np.sort(np.concatenate([f["unet"]["score"][f["unet"]["false"]] for f in fields]))[::-1]
    allowed = int(np.floor(target * len(fields) + 1e-9))
    if allowed >= len(false):
        return FLOOR
    # Just above the first false candidate that would exceed the allowance.
    return float(np.nextafter(np.float32(false[allowed]), np.float32(2.0)))


def summary(fields: list[dict[str, Any]], which: str, threshold: float) -> dict[str, Any]:
    """Completeness per SNR bin and false candidates per frame (with their kinds)."""
    snr = np.concatenate([f["truth_snr"] for f in fields])
    found = np.concatenate([f[which]["best"] for f in fields]) >= threshold
    hits = [f[which]["false"] & (f[which]["score"] >= threshold) for f in fields]
    false = [int(h.sum()) for h in hits]
    kinds = np.concatenate([f[which]["kinds"][h] for f, h in zip(fields, hits, strict=True)])
    names, counts = np.unique(kinds, return_counts=True)
    bins = []
    edges = (*SNR_BINS, np.inf)
    for lo, hi in itertools.pairwise(edges):
        sel = (snr >= lo) & (snr < hi)
        n = int(sel.sum())
        bins.append(
            {
                "snr": [lo, None if np.isinf(hi) else hi],
                "n": n,
                "completeness": round(float(found[sel].mean()), 4) if n else None,
            }
        )
    return {
        "threshold": round(float(threshold), 4),
        "completeness_by_snr": bins,
        "completeness_snr_ge_5": round(float(found[snr >= 5].mean()), 4),
        "completeness_snr_ge_10": round(float(found[snr >= 10].mean()), 4),
        "false_per_frame": round(float(np.mean(false)), 2),
        "false_per_frame_max": int(np.max(false)),
        "false_per_frame_by_kind": {
            str(k): round(int(c) / len(fields), 2)
            for k, c in sorted(zip(names, counts, strict=True), key=lambda kc: -kc[1])
        },
    }


def sweep(fields: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """`summary` of both detectors over a range of thresholds."""
    return {
        which: [summary(fields, which, t) for t in thresholds]
        for which, thresholds in (("scorr", SCORR_SWEEP), ("unet", UNET_SWEEP))
    }


def goto_pair() -> tuple[Path, Path]:
    """(reference, science) of the real GOTO frames shipped in the zogyp wheel."""
    import zogyp

    base = Path(zogyp.__file__).parent / "test"
    return base / "1.fits", base / "2.fits"


def real_pair(
    detector: UNetDetector, thresholds: dict[str, float], *, rounds: int, seed: int
) -> dict[str, Any]:
    """Both detectors on the real GOTO pair: fake recovery and candidates without fakes.

    No truth exists for a real pair, so "false" is what `docs/evaluation.md` counts: the
    candidates of the fake-free run (artifacts, residuals and any real changes alike).
    Fakes (the evaluation's injection, quiet sky, SNR 3-40) are found when a candidate of
    the injected run lies within 3 px.
    """
    from astrid.difference.subtract import SubtractConfig, subtract
    from astrid.observations.fits_reader import read_image
    from astrid.preprocess.pair import PrepareConfig, prepare_pair
    from astrid.simulation import inject_fakes, quiet_sky

    ref_path, sci_path = goto_pair()
    science, reference = read_image(sci_path), read_image(ref_path)

    def detect(image: Any) -> tuple[dict[str, np.ndarray], Any]:
        pair = prepare_pair(image, reference, PrepareConfig())
        z = subtract(pair, SubtractConfig()).zogy
        ny, nx = pair.mask.shape
        fwhm = pair.science_psf.fwhm_at(nx / 2, ny / 2)
        pk = find_peaks(z.score_corr, threshold=SCORR_FLOOR, merge_radius=fwhm, valid=~pair.mask)
        prob = detector.probability(z.score_corr, z.difference, pair.mask)
        up = unet_peaks(prob, pair.mask, FLOOR)
        return {
            "scorr_xy": np.column_stack([pk.x, pk.y]).astype(float),
            "scorr": np.abs(pk.scorr),
            "unet_xy": np.column_stack([np.asarray(up["x"]), np.asarray(up["y"])]).astype(float),
            "unet": np.asarray(up["prob"], float),
        }, pair

    plain, pair = detect(science)
    points = {"scorr_ge_5": ("scorr", SCORR_THRESHOLD)} | {
        k: ("unet", t) for k, t in thresholds.items()
    }
    # The U-Net point with as many candidates on the fake-free frame as S_corr ≥ 5 has.
    n_scorr = int(np.sum(plain["scorr"] >= SCORR_THRESHOLD))
    ranked = np.sort(plain["unet"])[::-1]
    if n_scorr < len(ranked):
        t_here = float(np.nextafter(np.float32(ranked[n_scorr]), np.float32(2.0)))
        points["unet_same_count_here"] = ("unet", t_here)
    rng = np.random.default_rng(seed)
    quiet = quiet_sky(pair.science, pair.mask, pair.science_sigma)
    snr_all: list[np.ndarray] = []
    found: dict[str, list[np.ndarray]] = {k: [] for k in points}
    for _ in range(rounds):
        inj = inject_fakes(
            science,
            pair.science,
            pair.science_sigma,
            pair.science_psf,
            n=250,
            allowed=quiet,
            seed=int(rng.integers(0, 2**31)),
        )
        cand, _ = detect(inj.image)
        fake_xy = np.column_stack([np.asarray(inj.truth["x"]), np.asarray(inj.truth["y"])])
        snr_all.append(np.asarray(inj.truth["snr"], float))
        for key, (which, t) in points.items():
            keep = cand[which] >= t
            found[key].append(near(fake_xy, cand[f"{which}_xy"][keep], MATCH_RADIUS))
    snr = np.concatenate(snr_all)
    out: dict[str, Any] = {"frame": str(sci_path), "reference": str(ref_path), "fakes": len(snr)}
    edges = (*SNR_BINS, np.inf)
    for key, (which, t) in points.items():
        hit = np.concatenate(found[key])
        out[key] = {
            "threshold": round(float(t), 4),
            "completeness_by_snr": [
                {
                    "snr": [lo, None if np.isinf(hi) else hi],
                    "n": int(((snr >= lo) & (snr < hi)).sum()),
                    "completeness": round(float(hit[(snr >= lo) & (snr < hi)].mean()), 4)
                    if ((snr >= lo) & (snr < hi)).any()
                    else None,
                }
                for lo, hi in itertools.pairwise(edges)
            ],
            "completeness_snr_ge_5": round(float(hit[snr >= 5].mean()), 4),
            "candidates_without_fakes": int(np.sum(plain[which] >= t)),
        }
    return out


def timing(detector: UNetDetector, path: Path, reps: int) -> dict[str, float]:
    """Seconds of `UNetDetector.probability` on the field and on a 4×4 tiling of it."""
    with np.load(path) as data:
        s = data["map_score_corr"].astype(np.float32)
        d = data["map_difference"].astype(np.float32)
        mask = data["map_mask"]
    out: dict[str, float] = {}
    for label, k in (("1024", 1), ("4096", 4)):
        ss, dd, mm = (np.tile(a, (k, k)) for a in (s, d, mask))
        best = np.inf
        for _ in range(reps if k == 1 else 1):
            start = time.perf_counter()
            detector.probability(ss, dd, mm)
            best = min(best, time.perf_counter() - start)
        out[f"seconds_{label}"] = round(best, 3)
    return out


def stamp(model: Path, result: dict[str, Any], operating: str) -> None:
    """Write the metrics and the `operating` point's threshold into the model file's card."""
    import onnx

    from astrid.detection.onnx_file import METADATA_KEY
    from astrid.training.export import write_card

    proto = onnx.load(str(model))
    card = json.loads(next(p.value for p in proto.metadata_props if p.key == METADATA_KEY))
    card["threshold"] = result["test"][operating]["threshold"]
    card["threshold_choice"] = operating
    card["threshold_matched_to_scorr"] = result["threshold_matched"]
    card["metrics"] = {
        "benchmark": "benchmarks/unet_vs_scorr.py",
        "test_fields": result["test_fields"],
        "match_radius_px": result["match_radius_px"],
        "test": result["test"],
        "val": result["val"],
        "timing": result["timing"],
    }
    write_card(proto, card)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(model))


def cells(s: dict[str, Any]) -> str:
    """Completeness per SNR bin, printed."""
    return " ".join(
        f"{b['completeness']:6.3f}" if b["completeness"] is not None else "   -  "
        for b in s["completeness_by_snr"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", required=True, type=Path)
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("docs/results/unet_vs_scorr.json"))
    parser.add_argument("--stamp", action="store_true", help="write metrics into the model")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--operating",
        default="unet_p_0.5",
        choices=["unet_matched", "unet_p_0.5", "unet_matched_no_trails"],
        help="which U-Net point's threshold --stamp writes as the model's default",
    )
    parser.add_argument("--real", action="store_true", help="also the real GOTO pair")
    parser.add_argument("--real-rounds", type=int, default=3)
    parser.add_argument(
        "--no-kinds", dest="kinds", action="store_false", help="skip naming false candidates"
    )
    args = parser.parse_args()
    detector = UNetDetector.load(args.model, threads=args.threads)
    known = simulated_truth(args.set) if args.kinds else {}
    val, test = (
        [
            run_field(detector, p, fwhm, known.get(p.stem))
            for p, fwhm in field_files(args.set, split)
        ]
        for split in ("val", "test")
    )
    val_scorr = summary(val, "scorr", SCORR_THRESHOLD)
    t_matched = matched_threshold(val, val_scorr["false_per_frame"])
    # Stricter: S_corr's false rate as if satellite trails were all masked (they make
    # most of its false candidates on these fields).
    trails = val_scorr["false_per_frame_by_kind"].get("satellite_trail", 0.0)
    t_strict = matched_threshold(val, val_scorr["false_per_frame"] - trails)

    def three(fields: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "scorr_ge_5": summary(fields, "scorr", SCORR_THRESHOLD),
            "unet_matched": summary(fields, "unet", t_matched),
            "unet_p_0.5": summary(fields, "unet", 0.5),
            "unet_matched_no_trails": summary(fields, "unet", t_strict),
        }

    result: dict[str, Any] = {
        "set": str(args.set),
        "model": str(args.model or "shipped"),
        "model_version": detector.version,
        "model_sha256": detector.sha256,
        "match_radius_px": MATCH_RADIUS,
        "valid_pixels": "not map_mask (unmasked and on the reference footprint), both detectors",
        "val_fields": [f["name"] for f in val],
        "test_fields": [f["name"] for f in test],
        "test_fwhm_px": [round(f["fwhm"], 3) for f in test],
        "threshold_matched": round(t_matched, 4),
        "threshold_matched_no_trails": round(t_strict, 4),
        "val": three(val),
        "test": three(test),
        "test_sweep": sweep(test),
    }
    if args.real:
        result["real_goto"] = real_pair(
            detector,
            {k: result["test"][k]["threshold"] for k in result["test"] if k != "scorr_ge_5"},
            rounds=args.real_rounds,
            seed=0,
        )
    result["timing"] = {
        **timing(detector, field_files(args.set, "test")[0][0], args.reps),
        "threads": args.threads,
        "tile": 1024,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus_visible": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "command": "python benchmarks/unet_vs_scorr.py --set SET --model MODEL",
    }
    bins = " ".join(f"{lo:>6g}" for lo in SNR_BINS)
    print(f"TEST, {len(test)} fields: completeness per true-SNR bin (lower edges), false/frame")
    print(f"{'':<24} {bins}")
    for key, label in (
        ("scorr_ge_5", "S_corr >= 5"),
        ("unet_matched", f"U-Net p >= {t_matched:.3f}"),
        ("unet_p_0.5", "U-Net p >= 0.5"),
        ("unet_matched_no_trails", f"U-Net p >= {t_strict:.3f}"),
    ):
        v = result["test"][key]
        print(f"{label:<24} {cells(v)}  {v['false_per_frame']:8.2f}")
    if args.real:
        print(f"REAL GOTO pair, {result['real_goto']['fakes']} fakes; candidates without fakes")
        for key, v in result["real_goto"].items():
            if isinstance(v, dict):
                print(f"{key:<24} {cells(v)}  {v['candidates_without_fakes']:8d}")
    print(f"timing: {result['timing']}")
    if args.stamp:
        model = args.model or shipped_unet_path()
        stamp(model, result, args.operating)
        result["model_sha256"] = UNetDetector.load(model).sha256  # of the stamped file
        result["stamped_threshold"] = result["test"][args.operating]["threshold"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
