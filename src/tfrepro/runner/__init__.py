"""Code that runs *inside* each TensorFlow environment (see tfrepro_guest/).

Run it as `python path/to/runner JOB.json`. It must import on Python 3.7 with only the
standard library, numpy and TensorFlow, and never imports the host package.
"""
