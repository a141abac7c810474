"""Sums py-spy's collapsed stacks (`--format raw`) into a short flame summary for bench/CHAT.md.

    python bench/flame.py profile.txt [--top 25] [--match chat/,channels/]

Prints, for the functions that take the most samples, the share of all samples in which each
is on the stack (inclusive) and at its top (self). Idle samples (a thread waiting in `select`,
`epoll`, a lock or a queue) are counted apart, so the shares are of the busy time.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

IDLE = re.compile(r"\b(select|poll|epoll|wait|_wait_for_tstate_lock|acquire|get) \(")


def frames(stack: str) -> list[str]:
    """`a (file.py:1);b (file.py:2)` -> function names with their file, line numbers dropped."""
    out = []
    for frame in stack.split(";"):
        frame = re.sub(r":\d+\)$", ")", frame.strip())
        if frame.startswith("process ") or frame.startswith("thread "):
            continue
        out.append(frame)
    return out


# The frames every sample has (interpreter start, the event loop's and the threads' own
# loops): left out of the inclusive table, which is about what the server does.
PLUMBING = re.compile(
    r"runpy|threading\.py|concurrent/futures/thread\.py|daphne/(cli|server|__main__)|"
    r"asyncioreactor\.py|base_events\.py|asyncio/events\.py|asgiref/sync\.py"
)


def package(frame: str) -> str:
    """`f (chat/store.py)` -> `chat`; `f (selectors.py)` -> `selectors.py`."""
    found = re.search(r"\(([^)]*)\)$", frame)
    path = found.group(1) if found else frame
    return path.split("/")[0]


def summarize(lines: list[str], top: int = 25) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    busy = idle = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        names = frames(stack)
        if not names:
            continue
        samples = int(count)
        if IDLE.search(names[-1]):
            idle += samples
            continue
        busy += samples
        own[names[-1]] += samples
        packages[package(names[-1])] += samples
        for name in set(names):
            if not PLUMBING.search(name):
                inclusive[name] += samples
    rows = [f"busy samples: {busy} (idle, waiting: {idle})", "", "| package | self |"]
    rows.append("| --- | --- |")
    for name, samples in packages.most_common(10):
        rows.append(f"| {name} | {samples / busy:.0%} |")
    rows += ["", "| function | on stack | self |", "| --- | --- | --- |"]
    for name, samples in inclusive.most_common(top):
        rows.append(f"| `{name}` | {samples / busy:.0%} | {own[name] / busy:.0%} |")
    return "\n".join(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with open(args.path) as handle:
        print(summarize(handle.readlines(), args.top))
