from consultations import locks


def test_a_held_lock_turns_the_second_caller_away_at_once():
    with locks.try_lock("lock:client:1") as first:
        with locks.try_lock("lock:client:1") as second:
            assert (first, second) == (True, False)
    with locks.try_lock("lock:client:1") as again:
        assert again


def test_the_redis_lock_has_a_timeout(settings):
    from django.core.cache import cache

    with locks.try_lock("lock:consultant:7") as held:
        assert held
        ttl = cache.ttl("lock:consultant:7") if hasattr(cache, "ttl") else None
    if ttl is not None:  # django-redis: a crashed holder frees it when this runs out
        assert 0 < ttl <= locks.LOCK_TIMEOUT_SECONDS


def test_without_redis_a_process_lock_does_the_same(monkeypatch):
    class NoLocks:  # the local-memory cache of the embedded mode has no .lock
        pass

    monkeypatch.setattr(locks, "cache", NoLocks())
    with locks.try_lock("lock:client:2") as first:
        with locks.try_lock("lock:client:2") as second:
            assert (first, second) == (True, False)
    with locks.try_lock("lock:client:2") as again:
        assert again
