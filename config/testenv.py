"""A pytest plugin loaded with `-p config.testenv` (pyproject), before Django is set up.

It sets what the settings module must see at import: DEBUG on (no HTTPS redirect for the test
client) and, under xdist, a Redis database number of the worker's own, so workers never see
each other's cache keys, locks or channel-layer groups (each already gets its own test
database from pytest-django).
"""

import os
import re

os.environ.setdefault("DEBUG", "1")
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker and os.environ.get("REDIS_URL"):
    _index = int(re.sub(r"\D", "", _worker) or 0)
    _base = re.sub(r"/\d*$", "", os.environ["REDIS_URL"])
    os.environ["REDIS_URL"] = f"{_base}/{1 + _index % 15}"
