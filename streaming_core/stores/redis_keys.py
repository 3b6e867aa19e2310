"""The Redis keys and channels of the run store, in one place (every key starts with `lab:`)."""

from __future__ import annotations

RUNS = "lab:runs"  # set: every live run id, for the count /healthz reports
WORKERS = "lab:workers"  # sorted set: worker id -> the Redis time its lease ends


# HSET meta floor, only while the run exists: a key written after Redis restarted empty (or after the
# run was forgotten) would make readers wait for a run that can never end.
SET_FLOOR = "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'floor', ARGV[1]) end"

# A new run, atomically (a script is, and goes in a pipeline with other commands, as MULTI does not):
# KEYS meta, RUNS, the worker's runs; ARGV retention seconds, run id, then the meta hash's fields.
START = """
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
"""


def meta(run_id: str) -> str:
    """Hash: user, session, app, author, owner (worker id), floor."""
    return f"lab:run:{run_id}"


def log(run_id: str) -> str:
    """Stream: the run's events, entry id `<seq>-0`."""
    return f"lab:run:{run_id}:log"


def readers(run_id: str) -> str:
    """Sorted set: attached reader -> the next seq it reads."""
    return f"lab:run:{run_id}:readers"


def worker_runs(worker_id: str) -> str:
    """Set: the runs a worker owns, taken over by another worker if its lease ends."""
    return f"lab:worker:{worker_id}:runs"


def worker_channel(worker_id: str) -> str:
    """Pub/sub: `cancel <run>` and `readers <run>` messages for the worker that owns the run."""
    return f"lab:worker:{worker_id}"


def takeover(worker_id: str) -> str:
    """String: set (NX) by the one worker that finishes a dead worker's runs."""
    return f"lab:takeover:{worker_id}"


def seq_of(entry_id: bytes | str) -> int:
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(raw.partition("-")[0])
