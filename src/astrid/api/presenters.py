"""Catalog records turned into API response bodies, with the links between resources."""

from __future__ import annotations

from typing import Any

from astrid.api import schemas
from astrid.catalog.access import ApiKeyRecord, AuditRecord
from astrid.catalog.candidates import CUTOUT_KINDS, CandidateRecord
from astrid.catalog.curation import LabelRecord, ReviewProgress
from astrid.catalog.jobs import JobRecord
from astrid.catalog.model_registry import ModelRecord
from astrid.catalog.observations import ObservationRecord
from astrid.catalog.runs import RunRecord
from astrid.curation.consensus import Consensus, consensus
from astrid.service.candidates import LabelledCandidate

__all__ = [
    "API_PREFIX",
    "api_key_public",
    "audit_public",
    "candidate_detail",
    "candidate_public",
    "consensus_public",
    "job_public",
    "label_public",
    "model_public",
    "observation_public",
    "progress_public",
    "run_detail",
    "run_public",
]

API_PREFIX = "/api/v1"
_NO_LABELS = consensus([])


def observation_public(
    record: ObservationRecord, *, detail: bool = False
) -> schemas.ObservationPublic:
    """An observation's public fields (the server path is never shown)."""
    fields: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "role": record.role,
        "status": record.status,
        "error": record.error,
        "mjd": record.mjd,
        "filter": record.filter,
        "exptime": record.exptime,
        "gain": record.gain,
        "shape": record.shape,
        "content_sha256": record.content_sha256,
        "created_at": record.created_at,
        "file_url": f"{API_PREFIX}/observations/{record.id}/file" if record.store_key else None,
        "zero_point": record.zero_point,
        "zero_point_error": record.zero_point_error,
        "zero_point_stars": record.zero_point_stars,
        "zero_point_source": record.zero_point_source,
        "limiting_mag": record.limiting_mag,
        "stack": record.stack,
    }
    if detail:
        return schemas.ObservationDetail(**fields, wcs_header=record.wcs_header)
    return schemas.ObservationPublic(**fields)


def job_public(record: JobRecord) -> schemas.JobPublic:
    """A job with the observations it concerns."""
    reference = record.payload.get("reference_id")
    return schemas.JobPublic(
        id=record.id,
        kind=record.kind,
        status=record.status,  # type: ignore[arg-type]
        observation_id=record.observation_id,
        reference_id=int(reference) if reference is not None else None,
        run_id=record.run_id,
        error=record.error,
        attempts=record.attempts,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
    )


def _run_fields(record: RunRecord) -> dict[str, object]:
    timings = {k: float(v) for k, v in record.timings.items() if isinstance(v, int | float)}
    return {
        "id": record.id,
        "status": record.status,
        "science_id": record.science_id,
        "reference_id": record.reference_id,
        "n_candidates": record.n_candidates,
        "failed_stage": record.failed_stage,
        "error": record.error,
        "code_version": record.code_version,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "seconds": record.seconds,
        "timings": timings,
    }


def run_public(record: RunRecord) -> schemas.RunPublic:
    """A run's status and per-stage timings."""
    return schemas.RunPublic.model_validate(_run_fields(record))


def run_detail(record: RunRecord) -> schemas.RunDetail:
    """A run with its statistics, settings and product links."""
    products = {name: f"{API_PREFIX}/runs/{record.id}/products/{name}" for name in record.products}
    return schemas.RunDetail.model_validate(
        {
            **_run_fields(record),
            "stats": record.stats,
            "config": record.config,
            "products": products,
        }
    )


def consensus_public(value: Consensus) -> schemas.ConsensusPublic:
    """The curators' consensus."""
    return schemas.ConsensusPublic.model_validate(value)


def _cutout_url(record: CandidateRecord, kind: str, fmt: str) -> str:
    return f"{API_PREFIX}/candidates/{record.id}/cutouts/{kind}.{fmt}"


def _candidate_fields(record: CandidateRecord, agreed: Consensus | None) -> dict[str, object]:
    return {
        "id": record.id,
        "run_id": record.run_id,
        "observation_id": record.observation_id,
        "number": record.number,
        "x": record.x,
        "y": record.y,
        "ra": record.ra,
        "dec": record.dec,
        "sign": record.sign,
        "scorr": record.scorr,
        "snr": record.snr,
        "flux": record.flux,
        "flux_err": record.flux_err,
        "mag": record.mag,
        "mag_err": record.mag_err,
        "fwhm": record.fwhm,
        "elongation": record.elongation,
        "n_bad_pixels": record.n_bad_pixels,
        "dist_nearest_ref_source_arcsec": record.dist_nearest_ref_source_arcsec,
        "mjd": record.mjd,
        "filter": record.filter,
        "observation_name": record.observation_name,
        "object_id": record.object_id,
        "object_name": record.object_name,
        "survey": record.survey,
        "source_id": record.source_id,
        "packet_id": record.packet_id,
        "schema_version": record.schema_version,
        "survey_score": record.survey_score,
        "scores": schemas.ScoresPublic(
            rb=record.rb,
            ood=record.ood,
            ood_msp=record.ood_msp,
            ood_energy=record.ood_energy,
            ood_mahalanobis=record.ood_mahalanobis,
            model_version_id=record.model_version_id,
        ),
        "consensus": consensus_public(agreed or _NO_LABELS),
        "url": f"{API_PREFIX}/candidates/{record.id}",
        "thumbnail_url": _cutout_url(record, "difference", "png")
        if record.cutout_difference_key
        else None,
    }


def candidate_public(
    record: CandidateRecord, agreed: Consensus | None = None
) -> schemas.CandidatePublic:
    """A candidate as listed: measurements, scores, consensus and a thumbnail link."""
    return schemas.CandidatePublic.model_validate(_candidate_fields(record, agreed))


def candidate_detail(labelled: LabelledCandidate) -> schemas.CandidateDetail:
    """A candidate with its features, cutout links and label history."""
    record = labelled.record
    cutouts = {
        kind: schemas.CutoutLinks(
            png=_cutout_url(record, kind, "png"), fits=_cutout_url(record, kind, "fits")
        )
        for kind in CUTOUT_KINDS
        if record.cutout_key(kind)
    }
    return schemas.CandidateDetail.model_validate(
        {
            **_candidate_fields(record, labelled.consensus),
            "healpix": record.healpix,
            "features": record.features,
            "cutouts": cutouts,
            "labels": [label_public(label) for label in labelled.labels],
            "neighbours_url": f"{API_PREFIX}/candidates/{record.id}/neighbours",
        }
    )


def label_public(record: LabelRecord) -> schemas.LabelPublic:
    """One label."""
    return schemas.LabelPublic.model_validate(record)


def progress_public(progress: ReviewProgress) -> schemas.ReviewProgressPublic:
    """Review progress."""
    return schemas.ReviewProgressPublic.model_validate(progress)


def model_public(record: ModelRecord) -> schemas.ModelPublic:
    """A model version and its metrics (the file key stays internal)."""
    return schemas.ModelPublic(
        id=record.id,
        name=record.name,
        version=record.version,
        active=record.active,
        data_hash=record.data_hash,
        metrics=record.metrics,
        card=record.card,
        created_at=record.created_at,
    )


def api_key_public(record: ApiKeyRecord) -> schemas.ApiKeyPublic:
    """A key's listing (never the secret)."""
    return schemas.ApiKeyPublic.model_validate(record)


def audit_public(record: AuditRecord) -> schemas.AuditPublic:
    """One audit entry."""
    return schemas.AuditPublic.model_validate(record)
