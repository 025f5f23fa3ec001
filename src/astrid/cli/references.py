"""``astrid references build``: references stacked from the science frames themselves."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table as RichTable

from astrid.catalog import connect
from astrid.cli import (
    Command,
    DatabaseUrl,
    DataDir,
    Verbose,
    app,
    command_group,
    console,
    open_settings,
    print_error,
    setup_logging,
)
from astrid.difference.reference_selection import (
    FrameQuality,
    Selection,
    frame_quality,
    group_frames,
    select_frames,
)
from astrid.difference.stack import StackConfig, stack_frames
from astrid.difference.stack_files import write_stack
from astrid.errors import AstridError, InvalidImageError
from astrid.observations.fits_reader import read_image
from astrid.observations.hashing import file_sha256
from astrid.observations.image import Image
from astrid.pipeline.inputs import admit_frame
from astrid.store import ObjectStore

references_app = command_group("References built from your own frames.")
app.add_typer(references_app, name="references")


@references_app.command(cls=Command)
def build(
    frames: Annotated[
        list[Path],
        typer.Argument(help="Frames of any fields and bands (FITS with a WCS).", metavar="FILE"),
    ],
    out_dir: Annotated[
        Path,
        typer.Option("--out-dir", "-o", help="Folder for the reference files.", metavar="DIR"),
    ],
    before: Annotated[
        float | None,
        typer.Option(
            help="Stack only frames taken before this MJD (the science date); a frame "
            "without MJD-OBS is left out too.",
            metavar="MJD",
        ),
    ] = None,
    max_frames: Annotated[
        int, typer.Option(help="Stack at most this many frames per field and band.", min=2)
    ] = 20,
    min_frames: Annotated[
        int,
        typer.Option(
            help="Build no reference from fewer frames (3 or more reject what one frame "
            "alone holds).",
            min=2,
        ),
    ] = 3,
    register: Annotated[
        bool,
        typer.Option(
            help="Register each reference in the catalog, so that `astrid run` without "
            "--reference picks it for the frames it covers."
        ),
    ] = True,
    db: DatabaseUrl = None,
    data_dir: DataDir = None,
    verbose: Verbose = False,
) -> None:
    """Group FILEs by band and field, choose each group's deepest frames (transparency,
    noise and seeing measured; clouds, bad seeing and frames after --before left out) and
    stack them into one reference per group (the proper coadd of `astrid coadd`).
    docs/references.md."""
    setup_logging(verbose)
    if min_frames > max_frames:
        print_error(ValueError(f"--min-frames {min_frames} is more than --max-frames {max_frames}"))
        raise typer.Exit(2)
    # a frame that cannot be used is left out, and named; only headers stay in memory
    images, hashes, qualities = _read(frames)
    if not images:
        print_error(InvalidImageError(f"none of the {len(frames)} frame(s) can be used"))
        raise typer.Exit(2)
    groups = group_frames(images)
    written: list[Path] = []
    failed = 0
    for number, group in enumerate(groups, start=1):
        band = images[group[0]].meta.filter or "none"
        name = f"reference-{number:02d}-{band}.fits"
        members = [images[i] for i in group]
        try:
            ranked = select_frames(
                members, [qualities[i] for i in group], max_frames=max_frames, before=before
            )
            _show(name, members, ranked)
            chosen = [s.index for s in ranked if s.kept]
            if len(chosen) < min_frames:
                console.print(
                    f"{name}: not built, {len(chosen)} usable frame(s), --min-frames is "
                    f"{min_frames}",
                    soft_wrap=True,
                )
                continue
            with console.status(f"{name}: aligning, rejecting outliers and stacking"):
                stack = stack_frames(
                    [partial(read_image, str(members[i].path)) for i in chosen], StackConfig()
                )
            path = write_stack(stack, out_dir / name, sha256=[hashes[group[i]] for i in chosen])
        except AstridError as e:
            print_error(e)
            failed += 1
            continue
        written.append(path)
        console.print(
            f"{name}: {len(chosen)} frames, PSF FWHM {stack.fwhm_px:.2f} px, point-source "
            f"S/N {stack.depth_gain:.2f}× the best frame's → {escape(str(path))}",
            soft_wrap=True,
        )
    if register and written:
        with open_settings(data_dir, db) as settings, connect(settings.db_url) as catalog:
            store = ObjectStore(settings.store_root)
            for path in written:
                admitted = admit_frame(catalog, store, path, "reference")
                console.print(f"registered {path.name} as observation {admitted.observation_id}")
    console.print(f"{len(written)} reference(s) from {len(groups)} field/band group(s)")
    if failed or not written:
        raise typer.Exit(1)


def _read(frames: list[Path]) -> tuple[list[Image], list[str], list[FrameQuality]]:
    """The frames that can be read, have a celestial WCS and can be measured, with their
    hashes and qualities; each other one is named with the reason, and the rest go on.

    Only each frame's header, WCS and shape are kept (its pixels are read again when it is
    stacked), so a heap of frames does not have to fit in memory.
    """
    images, hashes, qualities = [], [], []
    with console.status(f"reading and measuring {len(frames)} frame(s)"):
        for path in frames:
            try:
                sha256 = file_sha256(path)
                image = read_image(path)
            except OSError as e:
                _left_out(str(path), f"cannot read ({e})")
                continue
            except AstridError as e:
                _left_out(str(path), str(e))
                continue
            if image.wcs is None or not image.wcs.has_celestial:
                _left_out(str(path), "no celestial WCS")
                continue
            try:
                qualities.append(frame_quality(image))
            except AstridError as e:
                _left_out(image.label, str(e))
                continue
            images.append(_without_pixels(image))
            hashes.append(sha256)
    return images, hashes, qualities


def _without_pixels(image: Image) -> Image:
    """The image with its pixels dropped: zero-stride views of its shape (no memory)."""
    return replace(
        image,
        data=np.broadcast_to(np.float32(0.0), image.shape),
        mask=np.broadcast_to(False, image.shape),
    )


def _left_out(label: str, reason: str) -> None:
    console.print(f"left out {escape(label)}: {escape(reason)}", soft_wrap=True)


def _show(name: str, members: list[Image], ranked: list[Selection]) -> None:
    table = RichTable(title=name)
    table.add_column("frame")
    for column in ("MJD", "FWHM px", "σ", "transparency", "depth"):
        table.add_column(column, justify="right")
    table.add_column("")
    for s in ranked:
        image = members[s.index]
        table.add_row(
            escape(image.label),
            "" if image.meta.mjd is None else f"{image.meta.mjd:.4f}",
            f"{s.quality.fwhm_px:.2f}",
            f"{s.quality.sigma:.3g}",
            f"{s.transparency:.2f}",
            f"{s.depth:.2f}",
            "stacked" if s.kept else "left out",
        )
    console.print(table)
    for s in ranked:  # whole lines: a log keeps them unwrapped
        if not s.kept:
            _left_out(members[s.index].label, s.reason)
