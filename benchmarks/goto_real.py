"""Real GOTO pair (zogyp wheel): S_corr noise and fake-source completeness.

Usage: python benchmarks/goto_real.py [--n-fakes 300] [--seeds 0 1 2] [--out docs/results]

Needs ``pip install --no-deps zogyp``. Writes a JSON result and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from astrid.difference.subtract import subtract
from astrid.evaluation.scoring import match_to_truth
from astrid.observations.fits_reader import read_image
from astrid.preprocess.pair import prepare_pair
from astrid.simulation import inject_fakes


def goto_paths() -> tuple[Path, Path]:
    import zogyp

    base = Path(zogyp.__file__).parent / "test"
    return base / "1.fits", base / "2.fits"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-fakes", type=int, default=300)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=Path("docs/results"))
    args = ap.parse_args()
    ref_path, sci_path = goto_paths()
    reference, science = read_image(ref_path), read_image(sci_path)

    start = time.perf_counter()
    pair = prepare_pair(science, reference)
    plain = subtract(pair)
    seconds = time.perf_counter() - start
    result: dict[str, object] = {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores",
        "command": "python benchmarks/goto_real.py "
        + " ".join(
            f"--{k.replace('_', '-')} {v if not isinstance(v, list) else ' '.join(map(str, v))}"
            for k, v in vars(args).items()
            if k != "out"
        ),
        "pair_seconds": seconds,
        "stats": {**pair.stats, **plain.stats},
        "n_candidates_plain": len(plain.candidates),
    }
    print(f"GOTO pair: {len(plain.candidates)} candidates, {seconds:.1f} s")
    st = plain.stats
    print(
        f"S_corr (ZOGY white-noise model) in source-free sky: mean {st['scorr_mean_raw']:+.3f}, "
        f"median {st['scorr_median_raw']:+.3f}, std {st['scorr_std_raw']:.3f}, "
        f"robust std {st['scorr_robust_std_raw']:.3f}"
    )
    print(
        f"S_corr after dividing by the measured spread ({st['scorr_noise_scale']:.3f}): "
        f"mean {st['scorr_mean']:+.3f}, std {st['scorr_std']:.3f}, "
        f"robust std {st['scorr_robust_std']:.3f}"
    )

    runs = []
    for seed in args.seeds:
        fake = inject_fakes(
            science,
            pair.science,
            pair.science_sigma,
            pair.science_psf,
            n=args.n_fakes,
            seed=seed,
        )
        fpair = prepare_pair(fake.image, reference)
        fsub = subtract(fpair)
        score = match_to_truth(fake.truth, fsub.candidates)
        runs.append({k: v for k, v in score.items() if k not in ("found", "bogus_mask")})
        print(
            f"seed {seed}: {len(fake.truth)} fakes, completeness {score['completeness_all']:.3f}, "
            f"optimum {score['optimum_all']:.3f}, efficiency {score['efficiency_vs_optimum']:.3f}, "
            f"flux ratio {score.get('flux_ratio_median_snr_ge_20', float('nan')):.3f}, "
            f"astrometry {score.get('astrometry_rms_arcsec_snr_ge_20', float('nan')):.3f}″"
        )
    result["injections"] = runs
    result["efficiency_mean"] = float(np.mean([r["efficiency_vs_optimum"] for r in runs]))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "goto_real.json"
    path.write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
