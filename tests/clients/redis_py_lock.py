"""redis-py's Lock on a slotd cluster, as an app uses it.

Lock acquire, extend and release are Lua scripts that redis-py sends with
EVALSHA, falling back to SCRIPT LOAD on NOSCRIPT. Usage: redis_py_lock.py HOST PORT
"""

import sys
import threading
import time

from redis.cluster import RedisCluster
from redis.exceptions import LockError

host, port = sys.argv[1], int(sys.argv[2])
rc = RedisCluster(host=host, port=port, decode_responses=True)

# Four workers do a read-modify-write under the lock: no update is lost.
rc.delete("lab:counter")


def worker():
    for _ in range(25):
        with rc.lock("lab:lock", timeout=5, blocking_timeout=20):
            value = int(rc.get("lab:counter") or 0)
            rc.set("lab:counter", value + 1)


threads = [threading.Thread(target=worker) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert rc.get("lab:counter") == "100", rc.get("lab:counter")

# A held lock: nobody else takes it; its owner extends and releases it.
a = rc.lock("lab:held", timeout=2)
assert a.acquire(blocking=False)
b = rc.lock("lab:held", timeout=2)
assert not b.acquire(blocking=False), "a second owner took a held lock"
assert a.extend(5)
ttl = rc.pttl("lab:held")
assert 5000 < ttl <= 7000, ttl
a.release()
assert b.acquire(blocking=False), "the released lock could not be taken"
b.release()
try:
    a.release()
    raise AssertionError("releasing a lock twice did not fail")
except LockError:
    pass

# A holder that vanished: its lock frees itself after the timeout.
gone = rc.lock("lab:expiring", timeout=0.3)
assert gone.acquire(blocking=False)
start = time.monotonic()
late = rc.lock("lab:expiring", timeout=2)
assert late.acquire(blocking=True, blocking_timeout=5), "an expired lock stayed taken"
assert time.monotonic() - start < 4
late.release()

# After SCRIPT FLUSH on every node the scripts are loaded again on NOSCRIPT.
for node in rc.get_primaries():
    node.redis_connection.script_flush()
with rc.lock("lab:lock", timeout=5, blocking_timeout=5):
    rc.incr("lab:counter")
assert rc.get("lab:counter") == "101"
rc.close()
print("ok")
