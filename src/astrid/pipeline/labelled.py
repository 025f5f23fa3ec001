"""The curators' labels as training data: labelled candidates and their stored cutouts.

Every candidate whose labels agree on a class (`astrid.curation.consensus`: real or bogus,
even when the kinds differ) becomes one example; ``unsure``, disputed and unlabelled
candidates are left out, and so is a labelled candidate whose cutouts are not in the store
(counted in `LabelledCandidates.missing_cutouts`). `astrid.training.finetune.labelled_set`
turns the result into a training set; ``astrid train --with-labels`` fine-tunes on it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from astrid.catalog import Catalog
from astrid.catalog.curation import all_labels, consensus_of
from astrid.errors import StorageError
from astrid.pipeline.scoring import stored_cutouts
from astrid.store import ObjectStore

__all__ = ["LabelledCandidates", "labelled_candidates"]

log = logging.getLogger(__name__)

#: Most labels read for one training run.
MAX_LABELS = 1_000_000
# Candidate ids per catalog query.
_CHUNK = 5_000


@dataclass(frozen=True)
class LabelledCandidates:
    """Candidates with a class consensus, and their raw cutout triplets.

    Attributes
    ----------
    rows : list of dict
        Catalog candidate rows (`Catalog.candidates`), in candidate-id order.
    triplets : ndarray
        ``(n, 3, s, s)`` science, reference, difference cutouts as stored.
    label : ndarray
        1 real, 0 bogus (the class consensus).
    kind : ndarray of str
        The agreed label (``cosmic_ray``, ``real``, ...), or the class when only it is agreed.
    missing_cutouts : int
        Labelled candidates left out because their cutouts are not in the store.
    """

    rows: list[dict[str, Any]]
    triplets: np.ndarray
    label: np.ndarray
    kind: np.ndarray
    missing_cutouts: int = 0

    def __len__(self) -> int:
        return len(self.rows)


def labelled_candidates(catalog: Catalog, store: ObjectStore) -> LabelledCandidates:
    """Every candidate of `catalog` whose curators agree on real or bogus."""
    ids = sorted({r.candidate_id for r in all_labels(catalog, max_rows=MAX_LABELS)})
    agreed = {cid: c for cid, c in consensus_of(catalog, ids).items() if c.label_class is not None}
    rows: list[dict[str, Any]] = []
    triplets: list[np.ndarray] = []
    label: list[int] = []
    kind: list[str] = []
    missing = 0
    wanted = sorted(agreed)
    for start in range(0, len(wanted), _CHUNK):
        for row in catalog.candidates(ids=wanted[start : start + _CHUNK]):
            try:
                triplets.append(stored_cutouts(store, [row])[0])
            except StorageError as e:
                log.warning("labelled candidate %s left out: %s", row["id"], e)
                missing += 1
                continue
            c = agreed[int(row["id"])]
            rows.append(row)
            label.append(1 if c.label_class == "real" else 0)
            kind.append(c.label if c.label is not None else str(c.label_class))
    order = np.argsort([int(r["id"]) for r in rows], kind="stable")
    return LabelledCandidates(
        rows=[rows[i] for i in order],
        triplets=(np.stack(triplets)[order] if triplets else np.zeros((0, 3, 63, 63), np.float32)),
        label=np.asarray(label, np.int64)[order],
        kind=np.asarray(kind, dtype=str)[order] if kind else np.zeros(0, "<U1"),
        missing_cutouts=missing,
    )
