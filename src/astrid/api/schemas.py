"""Request and response bodies of the API (pydantic).

Responses are built from the catalog's records field by field, so a stored field (a
server path, a key hash) reaches a client only when a schema names it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from astrid.curation.labels import LabelName
from astrid.roles import Role

__all__ = [
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPublic",
    "AuditPublic",
    "CandidateDetail",
    "CandidatePagePublic",
    "CandidatePublic",
    "ConeMatchPublic",
    "ConsensusPublic",
    "CutoutLinks",
    "Health",
    "JobPublic",
    "LabelCreate",
    "LabelPublic",
    "LabelsPublic",
    "Me",
    "ModelPublic",
    "ObservationDetail",
    "ObservationPublic",
    "Readiness",
    "ReviewItem",
    "ReviewProgressPublic",
    "RunDetail",
    "RunPublic",
    "ScoresPublic",
    "UploadResult",
]


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class Health(_Public):
    status: Literal["ok"]
    version: str


class Readiness(_Public):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description="component -> 'ok' or the error")


class Me(_Public):
    name: str
    role: Role
    method: Literal["api_key", "jwt", "session"]
    subject: str


class StackInputPublic(_Public):
    file: str = Field(description="the input file as given to the stack")
    sha256: str = Field(description="SHA-256 of the input file")
    mjd: float | None
    fwhm_px: float | None = Field(description="PSF FWHM on the stack's grid (pixels)")
    sigma: float | None = Field(description="background noise (1 sigma, the input's units)")
    flux_scale: float | None = Field(description="counts per count of the first input")
    weight: float | None = Field(description="share of the stack's point-source S/N²")


class StackSummaryPublic(_Public):
    method: str | None = Field(description="proper (Zackay & Ofek 2017), mean or median")
    n_inputs: int | None
    fwhm_px: float | None = Field(description="PSF FWHM of the stack (pixels)")
    depth_gain: float | None = Field(description="point-source S/N over the best input's")
    mjd_begin: float | None = Field(description="earliest input")
    mjd_end: float | None = Field(description="latest input")
    outliers_rejected: bool | None = Field(description="single-frame outliers rejected")
    limiting_mag: float | None = Field(
        None, description="5 sigma point-source limit of the stack (AB mag), with a zero point"
    )
    inputs: list[StackInputPublic]


class ObservationPublic(_Public):
    id: int
    name: str
    role: Literal["science", "reference"]
    status: Literal["registered", "failed", "processed"]
    error: str | None
    mjd: float | None = Field(description="MJD (UTC) of the exposure")
    filter: str | None
    exptime: float = Field(description="seconds")
    gain: float = Field(description="e-/ADU")
    shape: tuple[int, int] = Field(description="(ny, nx) pixels")
    content_sha256: str
    created_at: datetime
    file_url: str | None = Field(description="the stored FITS file")
    zero_point: float | None = Field(
        None, description="AB magnitude of one unit of the frame's flux (processed frames)"
    )
    zero_point_error: float | None = Field(None, description="1 sigma error of zero_point (mag)")
    zero_point_stars: int | None = Field(None, description="catalogue stars it was fitted to")
    zero_point_source: str | None = Field(None, description="catalogue, header or reference header")
    limiting_mag: float | None = Field(None, description="5 sigma point-source limit (AB mag)")
    stack: StackSummaryPublic | None = Field(
        None, description="what a reference stack is made of (null for a single exposure)"
    )


class ObservationDetail(ObservationPublic):
    wcs_header: str | None = Field(description="the WCS as FITS header cards")


class JobPublic(_Public):
    id: int
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    observation_id: int | None
    reference_id: int | None
    run_id: int | None
    error: str | None
    attempts: int = Field(description="times a worker claimed it")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class UploadResult(_Public):
    observation: ObservationPublic
    created: bool = Field(description="false when this content was already registered")
    job: JobPublic | None = Field(description="the processing job of a science upload")


class RunPublic(_Public):
    id: int
    status: Literal["queued", "running", "done", "failed"]
    science_id: int
    reference_id: int | None
    n_candidates: int
    failed_stage: str | None
    error: str | None
    code_version: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None = Field(description="wall clock, start to finish")
    timings: dict[str, float] = Field(description="seconds per pipeline stage")


class RunDetail(RunPublic):
    stats: dict[str, Any]
    config: dict[str, Any]
    products: dict[str, str] = Field(description="product name -> download URL")


class ConsensusPublic(_Public):
    status: Literal["unlabelled", "agreed", "disputed", "unsure"]
    label: str | None
    label_class: Literal["real", "bogus"] | None
    agreement: float
    n_curators: int
    n_decided: int
    votes: dict[str, int]


class ScoresPublic(_Public):
    rb: float | None = Field(description="real/bogus score, 1 = real")
    ood: float | None = Field(description="calibrated out-of-distribution score")
    ood_msp: float | None
    ood_energy: float | None
    ood_mahalanobis: float | None
    model_version_id: int | None


class CandidatePublic(_Public):
    id: int
    run_id: int
    observation_id: int
    number: int
    x: float
    y: float
    ra: float = Field(description="degrees ICRS")
    dec: float = Field(description="degrees ICRS")
    sign: Literal[-1, 1]
    scorr: float
    snr: float | None
    flux: float | None
    flux_err: float | None
    mag: float | None
    mag_err: float | None
    fwhm: float | None = Field(description="pixels")
    elongation: float | None
    n_bad_pixels: int
    dist_nearest_ref_source_arcsec: float | None
    mjd: float | None
    filter: str | None
    observation_name: str
    object_id: int | None = Field(description="the object (source) this detection belongs to")
    object_name: str | None = Field(description="the object's public name, e.g. ASTRID2026a")
    survey: str | None = Field(
        default=None, description="for a candidate ingested from an alert packet: ztf, rubin"
    )
    source_id: int | None = Field(
        default=None, description="the packet's detection id (ZTF candid, Rubin diaSourceId)"
    )
    packet_id: str | None = Field(default=None, description="the packet's own id")
    schema_version: str | None = Field(default=None, description="the packet's schema version")
    survey_score: float | None = Field(
        default=None, description="the survey's own real/bogus score (ZTF drb or rb)"
    )
    scores: ScoresPublic
    consensus: ConsensusPublic
    url: str
    thumbnail_url: str | None


class CutoutLinks(_Public):
    png: str
    fits: str


class LabelPublic(_Public):
    id: int
    candidate_id: int
    curator: str
    label: str
    comment: str | None
    created_at: datetime


class CandidateDetail(CandidatePublic):
    healpix: int = Field(description="nested HEALPix index, nside 2**16")
    features: dict[str, Any]
    cutouts: dict[str, CutoutLinks] = Field(description="science, reference, difference")
    labels: list[LabelPublic]
    neighbours_url: str


class CandidatePagePublic(_Public):
    items: list[CandidatePublic]
    next_cursor: str | None = Field(description="pass as cursor for the next page")


class ConeMatchPublic(_Public):
    separation_arcsec: float
    candidate: CandidatePublic


class LabelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: LabelName
    comment: str | None = Field(default=None, max_length=2000)


class LabelsPublic(_Public):
    candidate_id: int
    consensus: ConsensusPublic
    labels: list[LabelPublic]


class ReviewProgressPublic(_Public):
    remaining: int = Field(description="candidates waiting for this curator")
    labelled_by_curator: int
    claimed_by_others: int


class ReviewItem(_Public):
    candidate: CandidateDetail
    progress: ReviewProgressPublic


class ModelPublic(_Public):
    id: int
    name: str
    version: int
    active: bool
    data_hash: str
    metrics: dict[str, Any]
    card: dict[str, Any] | None
    created_at: datetime


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")
    role: Role


class ApiKeyPublic(_Public):
    id: int
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(_Public):
    key: str = Field(description="the secret: shown once, never stored")
    record: ApiKeyPublic


class AuditPublic(_Public):
    id: int
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    created_at: datetime
