"""The process that prepares a reference beside the science frame (`python -m`).

`astrid.pipeline.reference_cache.ReferenceAside` starts ``python -m
astrid.pipeline.reference_aside`` and writes its task to stdin, pickled: the owner's pid,
the reference's `FrameSource`, the `PrepareConfig`, the folder to keep the preparation in
and the pixel limit. The process dies with its owner (`die_with_parent`), prepares the
reference with one thread for the native libraries, keeps it in the folder and exits; a
failure is logged and leaves nothing kept, so the owner prepares the reference itself and
reports the error there.
"""

from __future__ import annotations

import pickle
import sys

from astrid.pipeline.frame_process import die_with_parent
from astrid.pipeline.reference_cache import prepare_into


def main() -> None:
    """Read the task from stdin (pickled by the owner, this process's parent) and do it."""
    owner, source, config, folder, max_pixels = pickle.load(sys.stdin.buffer)
    die_with_parent(owner)
    prepare_into(source, config, folder, max_pixels)


if __name__ == "__main__":
    main()
