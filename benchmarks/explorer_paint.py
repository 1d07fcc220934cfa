"""The explorer's first paint on a 100,000-row audit, measured in Chromium in JupyterLab.

    PYTHONPATH=. python -m benchmarks.dataset_scale memory --sizes 100000 --save /tmp/audit.parquet
    PYTHONPATH=. python -m benchmarks.explorer_paint /tmp/audit.parquet [--repeat 3]

First paint = from the key press that runs ``w = explore_misclassifications(table, model=..., images=...); w``
to the first gallery thumbnails visible in the page (the table already read, as a user would have it).
Measured for the whole table and, as the baseline in the same page, for its first 1,000 rows; also
the kernel's time to build the explorer, the kernel's RSS growth and the page's JS heap.
Uses the browser-test harness (tests/browser/conftest.py): one Jupyter server, Debian's Chromium.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SETUP = """
import time, numpy as np, psutil
from gradcam_widget import explore_misclassifications, read_audit
import benchmarks.dataset_scale as scale
table = read_audit({path!r})
images = np.stack([image for image, _ in scale.stream(len(table))])  # the audited images, in order
model = scale.small_model()
small_table, small_images = table.iloc[:1000].reset_index(drop=True), images[:1000]
"""

SHOW = """t0 = time.perf_counter(); rss0 = psutil.Process().memory_info().rss
w = explore_misclassifications({table}, model=model, images={images})
build_s, rss_mb = time.perf_counter() - t0, (psutil.Process().memory_info().rss - rss0) / 2**20
w"""

NEW_PAINT = """() => [...document.querySelectorAll('[data-testid=gcx-root][data-ready=true]')]
    .some((r) => !r.dataset.old && r.querySelector('.gcx-thumb') && r.getBoundingClientRect().height > 0)"""


def first_paint(nb, cell, repeat):
    page = nb.page
    times, builds, growth = [], [], []
    for _ in range(repeat):
        page.evaluate("() => document.querySelectorAll('[data-testid=gcx-root]').forEach((r) => r.dataset.old = '1')")
        editor = page.locator(".jp-Cell .jp-InputArea-editor").nth(cell)
        editor.click()
        start = time.perf_counter()
        page.keyboard.press("Control+Enter")
        page.wait_for_function(NEW_PAINT, timeout=120_000, polling="raf")
        times.append(time.perf_counter() - start)
        builds.append(nb.kernel.eval("build_s"))
        growth.append(nb.kernel.eval("rss_mb"))
        nb.kernel.execute("w.close()")
    heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize / 2**20 : null")
    return statistics.median(times), min(times), statistics.median(builds), max(growth), heap


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audit", help="a Parquet audit written by `dataset_scale memory --save`")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    import conftest as harness
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server = harness.JupyterServer(Path(tmp))
        server.start()
        pool = harness.KernelPool(server)
        pw = sync_playwright().start()
        browser = pw.chromium.launch(executable_path=harness.CHROMIUM, headless=True, args=harness.CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            cells = [
                SHOW.format(table="small_table", images="small_images"),
                SHOW.format(table="table", images="images"),
            ]
            path = server.write_notebook("paint.ipynb", cells)
            pool.bind(path)
            nb = harness.NotebookPage(server, context.new_page(), "lab", path, Path(tmp), "paint")
            nb.open(timeout=180)
            nb.kernel.execute(f"import sys; sys.path.insert(0, {str(ROOT)!r})")
            nb.kernel.execute(SETUP.format(path=str(Path(args.audit).resolve())), timeout=600)
            rows = nb.kernel.eval("len(table)")
            load = Path("/proc/loadavg").read_text().split()[:3]
            results = {name: first_paint(nb, cell, args.repeat) for cell, name in ((0, "1,000"), (1, f"{rows:,}"))}
            nb.close()
        finally:
            browser.close()
            pw.stop()
            server.stop()
    print(f"load average during the run: {' '.join(load)} (2 cores)")
    print(
        "| audit rows | first paint, median (best) | explorer built in the kernel | kernel RSS growth | page JS heap |"
    )
    print("|---|---|---|---|---|")
    for name, (median, best, build, growth, heap) in results.items():
        heap_text = f"{heap:.0f} MB" if heap is not None else "n/a"
        print(f"| {name} | {median:.2f} s ({best:.2f} s) | {build:.2f} s | {growth:.0f} MB | {heap_text} |")
    small, large = results["1,000"][0], results[f"{rows:,}"][0]
    print(f"first paint, {rows:,} rows / 1,000 rows: {large / small:.2f}x")


if __name__ == "__main__":
    main()
