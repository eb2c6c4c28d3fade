"""Events to the host: one JSON object per line, flushed at once so a crash loses nothing."""

import json
import math
import time


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN/inf; keep them as text: "nan", "inf"
    return value


class EventLog(object):
    def __init__(self, path):
        self._f = open(path, "a")  # noqa: SIM115 - open for the cell's life, closed by close()
        self._t0 = time.time()

    def emit(self, event, **fields):
        record = {"event": event, "t": round(time.time() - self._t0, 4)}
        for k, v in fields.items():
            record[k] = _clean(v)
        self._f.write(json.dumps(record) + "\n")
        self._f.flush()

    def close(self):
        self._f.close()
