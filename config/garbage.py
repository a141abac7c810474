"""The cyclic garbage collector, set up for a long-lived process once it has started (Celery
workers: config/celery.py; daphne: config/serve.py)."""

import gc

# A young collection runs after this many net allocations of tracked objects (Python's default:
# 700). A billing batch of 2,000 makes tens of thousands that live as long as the batch: at 700
# the collector ran about 650 times a 20,000-session tick, walked them again and again and
# promoted waves of them to older generations; at 10,000 about 35 times, at 50,000 a few
# (bench/BILLING.md). daphne's frames and events are short-lived but many: at 700 its collector
# took about 6 % of its CPU (bench/CHAT.md). The cost: cyclic garbage waits for up to 50,000
# allocations.
YOUNG_COLLECTION_THRESHOLD = 50_000


def tune_collector() -> None:
    """Freezes what is alive now (modules, Django's apps and settings: about 140,000 objects)
    out of the collections: a full collection walked every object of the process (about 0.1 s
    each); frozen, it walks what the work made since. In a forked process it also leaves those
    pages shared with the parent. And collects the young generation less often
    (`YOUNG_COLLECTION_THRESHOLD`): a 40,000-session tick's collector time went from
    0.25-0.48 s to 0.02-0.20 s."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)
