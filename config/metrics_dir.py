"""`python -m config.metrics_dir DIR`: readies the metrics folder that every process of one
machine shares (PROMETHEUS_MULTIPROC_DIR) before the processes start: makes it, and removes
the files of processes that are gone (a previous run), keeping those of live ones (a worker
started before the server). Imports nothing of prometheus-client, which would write there."""

import os
import re
import sys
from pathlib import Path

_PID_FILE = re.compile(r"_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare(path: str) -> int:
    """Makes `path` and removes the files of dead processes; returns how many it removed."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    removed = 0
    for file in folder.glob("*.db"):
        match = _PID_FILE.search(file.name)
        if match and not _alive(int(match.group(1))):
            file.unlink(missing_ok=True)
            removed += 1
    return removed


if __name__ == "__main__":
    prepare(sys.argv[1])
