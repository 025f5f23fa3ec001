"""``astrid references fetch`` (a template from a survey archive for a science frame) and
``astrid references ztf-frames`` (ZTF science frames from IRSA)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from astrid.archives import SURVEYS, TemplateRequest, fetch_template, template_request
from astrid.archives.hips_templates import TIMEOUT_S
from astrid.archives.ztf_frames import IBE_URL, download_frame, search_ztf_frames
from astrid.atomic_files import write_atomically
from astrid.catalog import Catalog, connect
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
        typer.Option(help=f"Archive survey: {', '.join(SURVEYS)}.", metavar="NAME"),
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
        int, typer.Option(help="Pixels added on every side of the frame's grid.", min=0)
    ] = 32,
    server: Annotated[
        str | None,
        typer.Option(help="hips2fits endpoint (default: CDS's).", metavar="URL"),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the archive.")] = TIMEOUT_S,
    register: Annotated[
        bool,
        typer.Option(help="Register the template as a reference for `astrid run`."),
    ] = False,
    db: DatabaseUrl = None,
    data_dir: DataDir = None,
    verbose: Verbose = False,
) -> None:
    """Fetch a survey's image of FILE's sky on FILE's own pixel grid (plus --margin) from
    CDS hips2fits, for `astrid run --reference`. Answers are cached under
    DATA_DIR/cache/templates by request. Needs the network (docs/references.md)."""
    setup_logging(verbose)
    try:
        with open_settings(data_dir, db) as settings:
            request = template_request(
                read_image(science), survey=survey, band=band, hips=hips, margin=margin
            )
            with console.status(f"asking hips2fits for {request.hips}"):
                path, cached = cached_template(settings, request, timeout=timeout, server=server)
            if cached:
                console.print(f"{request.hips}: from the cache ({escape(str(path))})")
            write_atomically(out, path.read_bytes())
            console.print(
                f"template {escape(str(out))}: {request.hips}, {request.shape[1]}×"
                f"{request.shape[0]} px on the grid of {escape(request.label)}",
                soft_wrap=True,
            )
            if register:
                with connect(settings.db_url) as catalog:
                    store = ObjectStore(settings.store_root)
                    admitted = admit_frame(catalog, store, out, "reference")
                console.print(f"registered as reference observation {admitted.observation_id}")
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e


def cached_template(
    settings: Settings, request: TemplateRequest, *, timeout: float, server: str | None
) -> tuple[Path, bool]:
    """The template file for ``request`` under DATA_DIR/cache/templates (named by the
    request's digest), fetched when not there yet; and whether it was there."""
    path = settings.data_dir / "cache" / "templates" / f"{request.digest}.fits"
    if path.exists():
        return path, True
    write_atomically(path, fetch_template(request, timeout=timeout, server=server))
    return path, False


def template_fetcher(
    settings: Settings, catalog: Catalog, store: ObjectStore
) -> Callable[[Image], int] | None:
    """For `astrid run` without --reference: a function that fetches (or reads from the
    cache) a template for a frame no registered reference covers, from
    ``ASTRID_TEMPLATE_SURVEY`` (a survey name or a HiPS ID), registers it as a reference
    and returns its observation id; None when that setting is not set (the default)."""
    survey = settings.template_survey
    if not survey:
        return None

    def fetch(image: Image) -> int:
        if survey in SURVEYS:
            request = template_request(image, survey=survey)
        else:
            request = template_request(image, hips=survey)
        path, _ = cached_template(
            settings, request, timeout=settings.template_timeout_s, server=settings.template_server
        )
        return admit_frame(catalog, store, path, "reference").observation_id

    return fetch


@references_app.command(cls=Command, name="ztf-frames")
def ztf_frames(
    ra: Annotated[float, typer.Option(help="Right ascension (ICRS degrees).", metavar="DEG")],
    dec: Annotated[float, typer.Option(help="Declination (ICRS degrees).", metavar="DEG")],
    out_dir: Annotated[
        Path,
        typer.Option("--out-dir", "-o", help="Folder for the frames.", metavar="DIR"),
    ],
    start_mjd: Annotated[
        float | None, typer.Option(help="Taken from this MJD on.", metavar="MJD")
    ] = None,
    end_mjd: Annotated[
        float | None, typer.Option(help="Taken up to this MJD.", metavar="MJD")
    ] = None,
    band: Annotated[str | None, typer.Option(help="g, r or i.", metavar="B")] = None,
    limit: Annotated[
        int, typer.Option(help="Download at most this many (oldest first).", min=0)
    ] = 20,
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
