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
    except Exception:  # noqa: BLE001 - not Linux: the watch thread below still holds
        pass

    def watch():
        while True:
            if os.getppid() != host:  # re-parented: the host is gone (also before prctl)
                os._exit(137)
            time.sleep(0.5)

    threading.Thread(target=watch, name="tfrepro-host-watch", daemon=True).start()


_die_with_host()

from tfrepro_guest.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
