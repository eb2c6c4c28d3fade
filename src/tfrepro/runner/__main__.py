"""Entry point inside a TensorFlow environment: `python <this folder> JOB.json`.

Only the standard library is imported before the job is read; TensorFlow is imported
after the knobs that must be set beforehand (environment variables) are in place.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tfrepro_guest.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
