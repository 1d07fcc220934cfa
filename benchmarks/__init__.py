"""Speed benchmarks of gradcam-widget against other Grad-CAM implementations and physical limits.

Run ``python -m benchmarks.run`` from the repository root (``--quick`` for a short smoke run).
Never imported by the package or run by the test suite (except one smoke test of ``--quick``).
"""
