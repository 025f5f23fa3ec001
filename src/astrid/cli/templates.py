"""``astrid references fetch`` (a template from a survey archive for a science frame),
``astrid references ztf-frames`` (ZTF science frames from IRSA) and ``astrid references
ps1-frames`` (PS1 single-epoch warps from MAST)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from astrid.archives import (
    SURVEY_NAMES,
    ArchiveRequest,
    fetch_archive_template,
    template_request_for,
)
from astrid.archives.ps1_cutouts import MAX_SIZE
from astrid.archives.ps1_frames import DEFAULT_SIZE, download_ps1_frame, search_ps1_frames
from astrid.archives.template_sources import TIMEOUT_S
from astrid.archives.ztf_frames import IBE_URL, download_frame, search_ztf_frames
from astrid.atomic_files import write_atomically
from astrid.catalog import Catalog, archive_template, connect, record_archive_template
from astrid.cli import (
    Command,
    DatabaseUrl,
    DataDir,
    Verbose,
    console,
    open_settings,
    print_error,
    setup_logging,
)
from astrid.cli.references import references_app
from astrid.config import Settings
from astrid.errors import AstridError
from astrid.observations.fits_reader import read_image
from astrid.observations.image import Image
from astrid.pipeline.inputs import admit_frame
from astrid.store import ObjectStore


@references_app.command(cls=Command)
def fetch(
    science: Annotated[
        Path, typer.Argument(help="The science frame (FITS with a WCS).", metavar="FILE")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Template file to write.", metavar="FILE")
    ],
    survey: Annotated[
        str,
        typer.Option(
            help=f"Archive survey: {', '.join(SURVEY_NAMES)} (or a HiPS ID).", metavar="NAME"
        ),
    ] = "ps1",
    band: Annotated[
        str | None,
        typer.Option(help="The survey's band (default: from the frame's FILTER).", metavar="B"),
    ] = None,
    hips: Annotated[
        str | None,
        typer.Option(help="Any HiPS image survey by its ID instead of --survey.", metavar="ID"),
    ] = None,
    margin: Annotated[
        int,
        typer.Option(help="Pixels added on every side of the frame's grid.", min=0, metavar="N"),
    ] = 32,
    server: Annotated[
        str | None,
        typer.Option(
            help="The archive's endpoint (hips2fits's URL; for ps1-cutout the folder of "
            "ps1filenames.py; for legacy-cutout the folder of fits-cutout; for "
            "skymapper-cutout the folder of the SIAP's query and get_image). Default: the "
            "archive's own.",
            metavar="URL",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the archive.", metavar="S")
    ] = TIMEOUT_S,
    register: Annotated[
        bool,
        typer.Option(help="Register the template as a reference for `astrid run`."),
    ] = False,
    db: DatabaseUrl = None,
    data_dir: DataDir = None,
    verbose: Verbose = False,
) -> None:
    """Fetch a survey's image of FILE's sky (plus --margin) for `astrid run --reference`:
    from CDS hips2fits on FILE's own pixel grid (ps1, decaps, a HiPS ID), or a survey's
    pixels on their own grid with its zero point (ps1-cutout: PS1 stacks from STScI;
    legacy-cutout: Legacy Survey DR10 from its viewer; skymapper-cutout: a SkyMapper DR4
    exposure from its SIAP). Answers are kept in the object store, indexed in the catalog
    by request: asked again, even offline, the stored one is used. Needs the network
    (docs/references.md)."""
    setup_logging(verbose)
    try:
        with open_settings(data_dir, db) as settings:
            request = template_request_for(
                read_image(science), survey, band=band, hips=hips, margin=margin
            )
            store = ObjectStore(settings.store_root)
            with connect(settings.db_url) as catalog:
                with console.status(f"asking for {request.source}"):
                    key, cached = stored_template(
                        catalog, store, request, timeout=timeout, server=server
                    )
                if cached:
                    console.print(f"{request.source}: from the store ({escape(key)})")
                write_atomically(out, store.get_bytes(key))
                console.print(
                    f"template {escape(str(out))}: {request.source}, {request.shape[1]}×"
                    f"{request.shape[0]} px for {escape(request.label)}",
                    soft_wrap=True,
                )
                if register:
                    admitted = admit_frame(catalog, store, out, "reference")
                    console.print(f"registered as reference observation {admitted.observation_id}")
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e


def stored_template(
    catalog: Catalog,
    store: ObjectStore,
    request: ArchiveRequest,
    *,
    timeout: float,
    server: str | None,
) -> tuple[str, bool]:
    """The store key of the template for ``request``, and whether it was there already.

    The catalog's index (`astrid.catalog.archive_template`) is asked for the request's
    digest first; on a miss (or when the recorded object is gone from the store) the
    archive is asked, the answer stored and recorded. Two processes asking at once both
    fetch and store the same bytes; the index keeps one row.
    """
    found = archive_template(catalog, request.digest)
    if found is not None and store.exists(found.store_key):
        return found.store_key, True
    key = store.put_bytes(
        fetch_archive_template(request, timeout=timeout, server=server), suffix=".fits"
    )
    ra, dec = request.centre
    recorded = record_archive_template(
        catalog,
        digest=request.digest,
        survey=request.survey,
        band=request.band,
        ra=ra,
        dec=dec,
        shape=request.shape,
        store_key=key,
        replace=found is not None,
    )
    return recorded.store_key, False


def template_fetcher(
    settings: Settings, catalog: Catalog, store: ObjectStore
) -> Callable[[Image], int] | None:
    """For `astrid run` without --reference: a function that fetches (or finds in the
    store) a template for a frame no registered reference covers, from
    ``ASTRID_TEMPLATE_SURVEY`` (a name in `SURVEY_NAMES` or a HiPS ID), registers it as a
    reference and returns its observation id; None when that setting is not set (the
    default)."""
    survey = settings.template_survey
    if not survey:
        return None

    def fetch(image: Image) -> int:
        request = template_request_for(image, survey)
        key, _ = stored_template(
            catalog,
            store,
            request,
            timeout=settings.template_timeout_s,
            server=settings.template_server,
        )
        return admit_frame(catalog, store, store.url(key), "reference").observation_id

    return fetch


# The options the archive frame searches share.
_Ra = Annotated[float, typer.Option(help="Right ascension (ICRS degrees).", metavar="DEG")]
_FramesDir = Annotated[
    Path, typer.Option("--out-dir", "-o", help="Folder for the frames.", metavar="DIR")
]
_StartMjd = Annotated[float | None, typer.Option(help="Taken from this MJD on.", metavar="MJD")]
_EndMjd = Annotated[float | None, typer.Option(help="Taken up to this MJD.", metavar="MJD")]
_Limit = Annotated[
    int, typer.Option(help="Download at most this many (oldest first).", min=0, metavar="N")
]


@references_app.command(cls=Command, name="ztf-frames")
def ztf_frames(
    ra: _Ra,
    dec: Annotated[float, typer.Option(help="Declination (ICRS degrees).", metavar="DEG")],
    out_dir: _FramesDir,
    start_mjd: _StartMjd = None,
    end_mjd: _EndMjd = None,
    band: Annotated[str | None, typer.Option(help="g, r or i.", metavar="B")] = None,
    limit: _Limit = 20,
    server: Annotated[
        str | None, typer.Option(help="IRSA IBE endpoint (default: IRSA's).", metavar="URL")
    ] = None,
) -> None:
    """Find the ZTF science frames that contain RA, DEC (between the MJDs, in the band) at
    IRSA and download them into DIR, for `astrid run` or `astrid references build`.
    Needs the network; public data releases need no account (docs/references.md)."""
    try:
        found = search_ztf_frames(
            ra, dec, start_mjd=start_mjd, end_mjd=end_mjd, band=band, base_url=server or IBE_URL
        )
        console.print(f"{len(found)} ZTF science frame(s) contain {ra:.5f}, {dec:.5f}")
        for frame in found[:limit]:
            path = download_frame(frame, out_dir)
            console.print(f"MJD {frame.mjd:.5f} {frame.filtercode} → {escape(str(path))}")
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e


@references_app.command(cls=Command, name="ps1-frames")
def ps1_frames(
    ra: _Ra,
    dec: Annotated[
        float, typer.Option(help="Declination (ICRS degrees; PS1: -30 or north).", metavar="DEG")
    ],
    out_dir: _FramesDir,
    start_mjd: _StartMjd = None,
    end_mjd: _EndMjd = None,
    band: Annotated[
        str | None, typer.Option(help="g, r, i, z or y (default: all).", metavar="B")
    ] = None,
    size: Annotated[
        int,
        typer.Option(
            help="Cutout side in PS1 pixels (0.25″).", min=1, max=MAX_SIZE, metavar="PIXELS"
        ),
    ] = DEFAULT_SIZE,
    limit: _Limit = 20,
    server: Annotated[
        str | None,
        typer.Option(
            help="Folder of ps1filenames.py and fitscut.cgi (default: STScI's).", metavar="URL"
        ),
    ] = None,
) -> None:
    """Find the Pan-STARRS1 single-epoch warps that cover RA, DEC (between the MJDs, in
    the band) at MAST and download a --size cutout of each, centred there, into DIR, for
    `astrid run` or `astrid references build`. Needs the network; no account
    (docs/references.md)."""
    try:
        found = search_ps1_frames(
            ra, dec, bands=band, start_mjd=start_mjd, end_mjd=end_mjd, base_url=server
        )
        if not found:
            start = "the first" if start_mjd is None else f"{start_mjd:g}"
            end = "the last" if end_mjd is None else f"{end_mjd:g}"
            console.print(
                f"no PS1 warp frame covers {ra:.5f}, {dec:.5f} in {band or 'grizy'} from MJD "
                f"{start} to {end} (warps flagged bad left out): nothing downloaded",
                soft_wrap=True,
            )
            return
        console.print(f"{len(found)} PS1 warp frame(s) cover {ra:.5f}, {dec:.5f}")
        for frame in found[:limit]:
            path = download_ps1_frame(frame, size, out_dir)
            console.print(
                f"MJD {frame.mjd:.5f} {frame.band} {frame.skycell} → {escape(str(path))}",
                soft_wrap=True,
            )
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
