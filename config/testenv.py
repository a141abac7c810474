"""A pytest plugin loaded with `-p config.testenv` (pyproject), before Django is set up.

It sets what the settings module must see at import: DEBUG on (no HTTPS redirect for the test
client) and, under xdist, a Redis database number of the worker's own (REDIS_URL's number plus
the worker's index), so workers never see each other's cache keys, locks or channel-layer
groups (each already gets its own test database from pytest-django).
"""

import os
import re

os.environ.setdefault("DEBUG", "1")
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker and os.environ.get("REDIS_URL"):
    _index = int(re.sub(r"\D", "", _worker) or 0)
    _match = re.search(r"/(\d+)$", os.environ["REDIS_URL"])
    _first = int(_match.group(1)) if _match else 0
    _base = re.sub(r"/\d*$", "", os.environ["REDIS_URL"])
    os.environ["REDIS_URL"] = f"{_base}/{(_first + _index) % 16}"
