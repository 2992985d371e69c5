"""The shared state of a distributed crawl in Redis: runs, workers, leases, seeding, budget.

No Scrapy imports: the Scrapy side (crawler/distributed/components.py) calls this module.

Keys, all under `dgarchive:`:

- `runs:<selection>` the id of the unfinished run of one (database, selection of towns,
  columns, site root, options); `lock` the run holding the frontier (one run at a time).
- `run:<id>:meta` (hash), `:queue` (scrapy-redis priority queue), `:dupefilter` (scrapy-redis
  fingerprints; a fingerprint is added in the same step that queues its request:
  `push_unseen`), `:workers` (set), `:hb:<worker>` (heartbeat, expires), `:reports` (hash).
- `:lease:data|owner|score` (hashes by lease id): a request popped by a worker stays leased
  until its callback's output has been queued. When the owner's heartbeat expires (killed,
  frozen, cut off), any other worker gives the lease back to the queue: no request is lost.
- `:host:<host>:slots` (sorted set of slot tokens by deadline), `:host:<host>:next` (the
  earliest start of the next request, ms) and `:host:<host>:delay` (AutoThrottle's delay, ms,
  adjusted by every worker's answers): the politeness budget of the whole run.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from crawler.distributed.parents import ParentLeases

PREFIX = "dgarchive:"

# Pop the first request of the priority queue and lease it to a worker, atomically: between
# the queue and the lease table there is no moment where a killed worker could lose it.
_POP_LEASE = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #r == 0 then return false end
redis.call('ZREM', KEYS[1], r[1])
local id = tostring(redis.call('INCR', KEYS[5]))
redis.call('HSET', KEYS[2], id, r[1])
redis.call('HSET', KEYS[3], id, ARGV[1])
redis.call('HSET', KEYS[4], id, r[2])
return {id, r[1]}
"""

# Give every lease of one worker back to the queue (ARGV[2] == '1') or drop them ('0').
_RETURN_LEASES = """
local owners = redis.call('HGETALL', KEYS[3])
local n = 0
for i = 1, #owners, 2 do
  local keep = false
  for j = 3, #ARGV do if ARGV[j] == owners[i] then keep = true end end
  if owners[i + 1] == ARGV[1] and not keep then
    local id = owners[i]
    if ARGV[2] == '1' then
      local data = redis.call('HGET', KEYS[2], id)
      local score = redis.call('HGET', KEYS[4], id)
      if data then redis.call('ZADD', KEYS[1], score or 0, data) end
    end
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    redis.call('HDEL', KEYS[4], id)
    n = n + 1
  end
end
return n
"""

# Mark a request seen and queue it, atomically (ARGV: fingerprint, score, encoded request):
# 1 if queued, 0 if it had been seen. Two calls (scrapy-redis's SADD, then its ZADD) left a
# moment where a worker killed between them lost the request for good: seen, so filtered
# wherever it was yielded again, and never queued (a list page's article was never fetched).
_SEEN_PUSH = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# A slot of the host's budget: at most ARGV[1] requests at once, each start at least the
# host's delay after the previous one: ARGV[2] ms, or (ARGV[5] == '1', AutoThrottle) the
# delay kept in KEYS[3], ARGV[2] until the first answer. Returns {1, 0} (the slot ARGV[4] is
# taken until ARGV[3] ms from now), or {0, ms to wait before asking again}.
_TAKE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return {0, 50} end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < nxt then return {0, nxt - now} end
local delay = tonumber(ARGV[2])
if ARGV[5] == '1' then delay = tonumber(redis.call('GET', KEYS[3]) or ARGV[2]) end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
redis.call('SET', KEYS[2], now + delay, 'PX', math.floor(delay) + 1000)
return {1, 0}
"""

# AutoThrottle's delay adjustment (scrapy.extensions.throttle), on the run's delay of a host:
# aim at a delay of latency / target concurrency, half way each answer, within [min, max];
# a non-200 answer never lowers it. ARGV: latency, target, min, max, start (ms), ok (1/0).
_ADJUST_DELAY = """
local old = tonumber(redis.call('GET', KEYS[1]) or ARGV[5])
local target = tonumber(ARGV[1]) / tonumber(ARGV[2])
local new = math.max(target, (old + target) / 2)
new = math.min(math.max(tonumber(ARGV[3]), new), tonumber(ARGV[4]))
if ARGV[6] ~= '1' and new <= old then return tostring(old) end
redis.call('SET', KEYS[1], tostring(new))
return tostring(new)
"""


class FrontierError(RuntimeError):
    """The frontier's Redis cannot be reached or answered with an error."""


class FrontierHeld(RuntimeError):
    """Another run holds the frontier; `holder` says which."""

    def __init__(self, url: str, holder: Mapping[str, Any]) -> None:
        self.holder = dict(holder)
        super().__init__(
            f"another crawl run holds the frontier {shown(url)}: run {holder.get('run_id')} "
            f"({holder.get('selection', '?')}), started by {holder.get('started_by', '?')}"
        )


def shown(url: str) -> str:
    """The frontier URL without a password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}:{parts.port or 6379}"
        return parts._replace(netloc=netloc).geturl()
    return url


def new_worker_id() -> str:
    """`<host>-<pid>-<4 hex>`: unique across hosts and restarts, readable in file names."""
    host = "".join(c for c in socket.gethostname() if c.isalnum() or c == "-")[:24] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


def selection_key(db: str, selection: Mapping[str, Any]) -> str:
    """The identity of a run: same database and same selection → same run."""
    text = json.dumps({"db": db, **selection}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Frontier:
    """One worker's handle on the shared state of a run in Redis."""

    def __init__(
        self, url: str, *, worker_id: str | None = None, heartbeat_ttl: float = 15.0
    ) -> None:
        import redis

        self.url = url
        self.worker_id = worker_id or new_worker_id()
        self.heartbeat_ttl = heartbeat_ttl
        self.redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.run_id: str | None = None
        # Records handed to the database pipeline, by URL: their request's lease.
        self.awaiting_store: dict[str, str] = {}
        # The leases of responses whose requests are not all queued yet.
        self.parents = ParentLeases(self)
        self.pipeline: Any = None  # the LeasedDatabasePipeline, when the database is used
        self._pop = self.redis.register_script(_POP_LEASE)
        self._seen_push = self.redis.register_script(_SEEN_PUSH)
        self._return = self.redis.register_script(_RETURN_LEASES)
        self._slot = self.redis.register_script(_TAKE_SLOT)
        self._adjust = self.redis.register_script(_ADJUST_DELAY)

    # -- keys ---------------------------------------------------------------------------

    def key(self, name: str) -> str:
        if self.run_id is None:
            raise RuntimeError("join a run first")
        return f"{PREFIX}run:{self.run_id}:{name}"

    def _lease_keys(self) -> list[str]:
        return [self.key("queue"), self.key("lease:data"), self.key("lease:owner"),
                self.key("lease:score"), self.key("lease:seq")]  # fmt: skip

    # -- joining a run ------------------------------------------------------------------

    def check(self) -> None:
        """Raise `FrontierError` unless the Redis answers."""
        import redis

        try:
            self.redis.ping()
        except redis.RedisError as exc:
            raise FrontierError(
                f"the frontier Redis at {shown(self.url)} is unreachable: {exc}"
            ) from None

    def join(self, db: str, selection: Mapping[str, Any]) -> str:
        """The run id of this (database, selection), created if none is unfinished.

        Raises `FrontierHeld` when another run with live workers holds the frontier."""
        r = self.redis
        runs_key = f"{PREFIX}runs:{selection_key(db, selection)}"
        label = ", ".join(f"{k}={v}" for k, v in sorted(selection.items()) if v)
        with r.lock(f"{PREFIX}lock:mutex", timeout=30, blocking_timeout=30):
            run_id = r.get(runs_key)
            run_id = run_id.decode() if run_id else str(uuid.uuid4())
            holder = {k.decode(): v.decode() for k, v in r.hgetall(f"{PREFIX}lock").items()}
            if holder and holder.get("run_id") != run_id and self._alive(holder["run_id"]):
                raise FrontierHeld(self.url, holder)
            self.run_id = run_id
            if not r.exists(self.key("meta")):
                r.hset(self.key("meta"), mapping={"db": db, "selection": label,
                       "started_at": _now(), "started_by": self.worker_id})  # fmt: skip
            r.set(runs_key, run_id)
            r.hset(f"{PREFIX}lock", mapping={"run_id": run_id, "selection": label,
                   "started_by": self.worker_id, "runs_key": runs_key})  # fmt: skip
            self.heartbeat()
            r.sadd(self.key("workers"), self.worker_id)
        return run_id

    def _alive(self, run_id: str) -> bool:
        """Whether any worker of `run_id` has a live heartbeat."""
        workers = self.redis.smembers(f"{PREFIX}run:{run_id}:workers")
        return any(self.redis.exists(f"{PREFIX}run:{run_id}:hb:{w.decode()}") for w in workers)

    def heartbeat(self) -> None:
        self.redis.set(self.key(f"hb:{self.worker_id}"), _now(), px=int(self.heartbeat_ttl * 1000))

    def gone_workers(self) -> list[str]:
        """The run's other workers whose heartbeat expired: ended, or killed."""
        live = {*self.live_workers(), self.worker_id}
        return [w.decode() for w in self.redis.smembers(self.key("workers"))
                if w.decode() not in live]  # fmt: skip

    def ending(self) -> None:
        """Say this worker is ending (its peers need not wait for it to be gone)."""
        self.redis.sadd(self.key("ending"), self.worker_id)

    def unsettled_peers(self) -> list[str]:
        """The other workers with a live heartbeat that have not said they are ending: at
        the run's idle end, a worker killed without leases (its heartbeat not expired yet)
        looks like one of these until its heartbeat expires."""
        ending = {w.decode() for w in self.redis.smembers(self.key("ending"))}
        return [w for w in self.live_workers() if w != self.worker_id and w not in ending]

    def live_workers(self) -> list[str]:
        return [w.decode() for w in self.redis.smembers(self.key("workers"))
                if self.redis.exists(self.key(f"hb:{w.decode()}"))]  # fmt: skip

    # -- seeding ------------------------------------------------------------------------

    def seeded(self) -> bool:
        return self.redis.hget(self.key("meta"), "seeded") is not None

    def seed_lock(self) -> Any:
        """The lock the seeding worker holds; it expires if that worker dies mid-seed."""
        return self.redis.lock(self.key("seedlock"), timeout=300)

    def mark_seeded(self) -> None:
        self.redis.hset(self.key("meta"), "seeded", self.worker_id)

    # -- leases -------------------------------------------------------------------------

    def pop_lease(self) -> tuple[str, bytes] | None:
        """The next request (encoded) and its lease id, or None when the queue is empty."""
        got = self._pop(keys=self._lease_keys(), args=[self.worker_id])
        if not got:
            return None
        return got[0].decode(), got[1]

    def push_unseen(self, fingerprint: str, score: float, data: bytes) -> bool:
        """Add `fingerprint` to the run's duplicate filter and, if it was not there, queue
        `data` (an encoded request) with `score`, in one step; True if queued."""
        keys = [self.key("dupefilter"), self.key("queue")]
        return bool(self._seen_push(keys=keys, args=[fingerprint, score, data]))

    def release(self, *lease_ids: str) -> None:
        if lease_ids:
            with self.redis.pipeline() as p:
                for name in ("lease:data", "lease:owner", "lease:score"):
                    p.hdel(self.key(name), *lease_ids)
                p.execute()

    def release_mine(self, keep: Iterable[str] = ()) -> int:
        """Drop this worker's leases but `keep` (called when it is idle: nothing of it is
        in flight but the records of `keep`, not committed yet)."""
        args = [self.worker_id, "0", *keep]
        return int(self._return(keys=self._lease_keys()[:4], args=args))

    def requeue_dead(self) -> int:
        """Give the leases of workers whose heartbeat expired back to the queue."""
        owners = {v.decode() for v in self.redis.hvals(self.key("lease:owner"))}
        n = 0
        for worker in owners:
            if worker != self.worker_id and not self.redis.exists(self.key(f"hb:{worker}")):
                n += int(self._return(keys=self._lease_keys()[:4], args=[worker, "1"]))
        return n

    def in_flight(self) -> int:
        return int(self.redis.hlen(self.key("lease:owner")))

    def queued(self) -> int:
        return int(self.redis.zcard(self.key("queue")))

    # -- politeness budget --------------------------------------------------------------

    def take_slot(
        self, host: str, concurrency: int, delay: float, lease: float, *, adaptive: bool = False
    ) -> tuple[str | None, float]:
        """A slot token for one request to `host`, or (None, seconds to wait). `delay` is the
        time between two starts; `adaptive`: the host's AutoThrottle delay once one is kept."""
        token = uuid.uuid4().hex
        keys = [self.key(f"host:{host}:slots"), self.key(f"host:{host}:next"),
                self.key(f"host:{host}:delay")]  # fmt: skip
        got, wait_ms = self._slot(keys=keys, args=[concurrency, int(delay * 1000),
                                  int(lease * 1000), token, int(adaptive)])  # fmt: skip
        return (token, 0.0) if got else (None, max(int(wait_ms), 10) / 1000)

    def free_slot(self, host: str, token: str) -> None:
        self.redis.zrem(self.key(f"host:{host}:slots"), token)

    def adjust_delay(
        self, host: str, latency: float, target: float, bounds: tuple[float, float, float], ok: bool
    ) -> float:
        """Fold one answer's latency into the host's shared AutoThrottle delay (seconds);
        `bounds` is (min, max, start) delay."""
        low, high, start = (int(x * 1000) for x in bounds)
        new = self._adjust(keys=[self.key(f"host:{host}:delay")],
                           args=[latency * 1000, target, low, high, start, int(ok)])  # fmt: skip
        return float(new) / 1000

    def host_delays(self) -> dict[str, float]:
        """The shared AutoThrottle delay of each host (seconds), for the report."""
        out = {}
        for key in self.redis.scan_iter(match=self.key("host:*:delay")):
            host = key.decode()[len(self.key("host:")) : -len(":delay")]
            out[host] = round(float(self.redis.get(key) or 0) / 1000, 3)
        return out

    # -- the end of a run ---------------------------------------------------------------

    def save_report(self, report: Mapping[str, Any]) -> None:
        self.redis.hset(self.key("reports"), self.worker_id, json.dumps(report, ensure_ascii=False))

    def finish(self) -> None:
        """Mark the run done: the next worker with this selection starts a new run."""
        r = self.redis
        with r.lock(f"{PREFIX}lock:mutex", timeout=30, blocking_timeout=30):
            r.hsetnx(self.key("meta"), "finished_at", _now())
            holder = r.hgetall(f"{PREFIX}lock")
            if holder.get(b"run_id", b"").decode() == self.run_id:
                runs_key = holder.get(b"runs_key", b"").decode()
                if runs_key and r.get(runs_key) == self.run_id.encode():
                    r.delete(runs_key)
                r.delete(f"{PREFIX}lock")

    def leave(self) -> None:
        self.redis.delete(self.key(f"hb:{self.worker_id}"))


def run_reports(url: str, run_id: str | None = None) -> tuple[str | None, dict[str, dict]]:
    """The reports of a run by worker (the latest run when `run_id` is None)."""
    import redis

    r = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    if run_id is None:
        latest: tuple[str, str] | None = None
        for key in r.scan_iter(match=f"{PREFIX}run:*:meta"):
            rid = key.decode()[len(PREFIX) + 4 : -5]
            started = (r.hget(key, "started_at") or b"").decode()
            if latest is None or started > latest[0]:
                latest = (started, rid)
        run_id = latest[1] if latest else None
    if run_id is None:
        return None, {}
    raw = r.hgetall(f"{PREFIX}run:{run_id}:reports")
    return run_id, {k.decode(): json.loads(v) for k, v in raw.items()}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
