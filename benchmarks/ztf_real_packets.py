"""Real ZTF alert packets through broker mode: AstrID's real/bogus beside ZTF's own.

Ingests every ``*.avro`` under the folder given (e.g. the sample packets of the public
``ZwickyTransientFacility/ztf-avro-alert`` repository, all versions of its ``data/``
folder) with `IngestStage` and the shipped model, and prints per packet ZTF's ``rb`` and
``drb`` (when the schema has it), AstrID's ``rb`` and ``ood``, and the problems met; then
the Spearman rank correlation of AstrID's rb with ZTF's score over the packets read.

    python benchmarks/ztf_real_packets.py FOLDER [--out FILE.md]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from markdown_report import machine_line, write_report
from scipy.stats import spearmanr
from scratch_catalog import scratch_catalog

from astrid.pipeline.ingest_stage import IngestStage
from astrid.pipeline.scoring import resolve_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with scratch_catalog() as (catalog, store, _):
        report = IngestStage(catalog, store, model=resolve_model(catalog, store)).ingest(
            [args.folder]
        )
        rows = sorted(catalog.candidates(), key=lambda c: c["source_id"])
    lines = [
        machine_line(f"python benchmarks/ztf_real_packets.py {args.folder.name}")
        + f" {report.files} files, {report.read} packets read, "
        f"{report.stored} distinct, {len(report.problems)} problems.",
        "",
        "| candid | schema | sign | mag | ZTF score | AstrID rb | AstrID ood "
        "| stamp pixels masked |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in rows:
        lines.append(
            f"| {c['source_id']} | {c['schema_version']} | {c['sign']:+d} | {c['mag']:.2f} "
            f"| {c['survey_score']:.3f} | {c['rb']:.3f} | {c['ood']:.3f} | {c['n_bad_pixels']} |"
        )
    ztf = np.array([c["survey_score"] for c in rows], dtype=float)
    ours = np.array([c["rb"] for c in rows], dtype=float)
    if len(rows) > 2:
        rho = spearmanr(ztf, ours).statistic
        lines += [
            "",
            f"Spearman rank correlation, AstrID rb vs ZTF score: {rho:.2f} (n = {len(rows)}).",
        ]
    lines += [
        "",
        "Problems:",
        *(f"- {p.path.split('/')[-1]}: {p.message}" for p in report.problems),
    ]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
