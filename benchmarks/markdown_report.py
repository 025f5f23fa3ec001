"""What every markdown benchmark report starts and ends with: the machine line and output.

from markdown_report import machine_line, write_report
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from pathlib import Path


def machine_line(command: str) -> str:
    """``Machine: …, N cores, Python X. Command: `…`.`` for the report's first line."""
    return (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. Command: `{command}`."
    )


def write_report(lines: Sequence[str], out: Path | None) -> str:
    """Print the report and write it to ``out`` when given; the text."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        out.write_text(text)
    return text
