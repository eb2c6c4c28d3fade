"""Entry point inside a TensorFlow environment: `python <this folder> JOB.json`.

Only the standard library is imported before the job is read; TensorFlow is imported
after the knobs that must be set beforehand (environment variables) are in place.

The runner dies with the tfrepro process that started it (TFREPRO_HOST_PID): on Linux by the
kernel's parent-death signal, and everywhere by a watch thread that exits when the parent is
gone, so a killed `tfrepro run` leaves no runner training on without it.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _die_with_host():
    host = os.environ.get("TFREPRO_HOST_PID", "")
    if not host.isdigit():
        return
    host = int(host)
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the watch thread below still holds
        pass

    def watch():
        while True:
            if os.getppid() != host:  # re-parented: the host is gone (also before prctl)
                os._exit(137)
            time.sleep(0.5)

    threading.Thread(target=watch, name="tfrepro-host-watch", daemon=True).start()


def main(argv):
    if len(argv) == 2 and argv[0] == "--serve":
        from tfrepro_guest import worker

        return worker.serve(argv[1])
    if len(argv) != 1:
        print("usage: python runner JOB.json | python runner --serve BOOT.json")
        return 2
    from tfrepro_guest import job

    return job.fresh(argv[0])


if __name__ == "__main__":
    _die_with_host()
    sys.exit(main(sys.argv[1:]))
