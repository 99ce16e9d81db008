"""Benchmark harness: what the wsconn operator costs against ARM's limits (run with `bench/run`).

Not part of the test suite and not imported by it: it reuses the testbed (`wsconn_testbed`) to start a local
control plane and the Azure emulator, runs the installed `wsconn run` as a process, and measures it from the
outside (the emulator's request log, the API server's audit log, /proc and the operator's /metrics).
See bench/README.md for what each figure means.
"""
