"""``astrid coadd``: stack frames of one field and band into a reference (proper coadd)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from astrid.catalog import connect
from astrid.cli import (
    Command,
    DatabaseUrl,
    DataDir,
    Verbose,
    app,
    console,
    open_settings,
    print_error,
    setup_logging,
)
from astrid.difference.reference_selection import after_date
from astrid.difference.stack import StackConfig, stack_frames
from astrid.difference.stack_files import write_stack
from astrid.errors import AstridError, InvalidImageError
from astrid.observations.fits_reader import read_image
from astrid.observations.hashing import file_sha256
from astrid.pipeline.inputs import admit_frame
from astrid.store import ObjectStore


@app.command("coadd", cls=Command)
def coadd(
    frames: Annotated[
        list[Path],
        typer.Argument(help="Frames of one field and band (FITS with a WCS).", metavar="FILE"),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The reference file to write.", metavar="FILE")
    ],
    reject_sigma: Annotated[
        float,
        typer.Option(
            help="Reject a frame's pixels departing from the others by this many σ "
            "(0: no rejection).",
            min=0.0,
        ),
    ] = StackConfig().reject_sigma,
    method: Annotated[
        str,
        typer.Option(
            help="proper (Zackay & Ofek 2017, default), or mean (inverse-variance "
            "weighted) or median, for comparison.",
            metavar="NAME",
        ),
    ] = StackConfig().method,
    before: Annotated[
        float | None,
        typer.Option(
            help="Stack only frames taken before this MJD (the science date: a frame taken "
            "after it may hold the transient); a frame without MJD-OBS is left out too.",
            metavar="MJD",
        ),
    ] = None,
    register: Annotated[
        bool,
        typer.Option(
            help="Register the reference in the catalog, so that `astrid run` without "
            "--reference picks it for the frames it covers."
        ),
    ] = False,
    db: DatabaseUrl = None,
    data_dir: DataDir = None,
    verbose: Verbose = False,
) -> None:
    """Stack FILEs into a reference for `astrid run --reference`: the proper coadd
    (Zackay & Ofek 2017) on the first frame's grid, with its PSF, variance, mask, the
    frames behind each pixel and every input named in the header (docs/references.md)."""
    setup_logging(verbose)
    try:
        hashes = []
        loaders = []
        config = StackConfig(reject_sigma=reject_sigma, method=method)
        with console.status(f"checking {len(frames)} frame(s)"):
            # Every file is read once here, so a bad one is named before any work, and
            # again when the stack gets to it: one frame in memory at a time.
            for path in frames:
                try:
                    sha256 = file_sha256(path)
                except OSError as e:
                    raise InvalidImageError(f"{path}: cannot read ({e})", path=str(path)) from e
                late = after_date(read_image(path), before)
                if late:
                    console.print(f"left out {path}: {late}")
                    continue
                hashes.append(sha256)
                loaders.append(partial(read_image, path))
        with console.status("aligning, rejecting outliers and stacking"):
            stack = stack_frames(loaders, config)
        written = write_stack(stack, out, sha256=hashes)
    except AstridError as e:
        print_error(e)
        raise typer.Exit(2) from e
    table = RichTable(title=f"Reference {written}: {len(stack.frames)} frames")
    table.add_column("frame")
    for column in ("MJD", "FWHM px", "σ", "flux scale", "weight", "rejected px"):
        table.add_column(column, justify="right")
    for frame in stack.frames:
        table.add_row(
            frame.label,
            "" if frame.mjd is None else f"{frame.mjd:.4f}",
            f"{frame.fwhm_px:.2f}",
            f"{frame.sigma:.3g}",
            f"{frame.flux_scale:.3f}",
            f"{frame.weight:.3f}",
            str(frame.rejected_px),
        )
    console.print(table)
    console.print(
        f"PSF FWHM {stack.fwhm_px:.2f} px; point-source S/N {stack.depth_gain:.2f}× the best "
        f"frame's; reference: {written}",
        soft_wrap=True,
    )
    if register:
        with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
            store = ObjectStore(settings.store_root)
            admitted = admit_frame(catalog, store, written, "reference")
            console.print(f"registered as reference observation {admitted.observation_id}")
