"""Self-test of the browser harness with a tiny throwaway anywidget (no gradcam code involved).

If these fail, the problem is the machine or the harness, not the widget.
"""

import re
import textwrap
import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PROBE_CELL = textwrap.dedent(
    '''
    import anywidget, traitlets

    class Probe(anywidget.AnyWidget):
        _esm = r"""
        function render({ model, el }) {
          const root = document.createElement("div");
          root.dataset.testid = "probe-root";
          const button = document.createElement("button");
          button.dataset.testid = "probe-button";
          const show = () => { button.textContent = `clicks: ${model.get("clicks")}`; };
          show();
          button.addEventListener("click", () => {
            model.set("clicks", model.get("clicks") + 1);
            model.save_changes();
          });
          model.on("change:clicks", show);
          const boom = document.createElement("button");
          boom.dataset.testid = "probe-boom";
          boom.textContent = "throw";
          boom.addEventListener("click", () => { throw new Error("probe widget failure"); });
          root.append(button, boom);
          el.append(root);
          root.dataset.ready = "true";
          return () => model.off("change:clicks", show);
        }
        export default { render };
        """
        clicks = traitlets.Int(0).tag(sync=True)

    p = Probe()
    p
    '''
)


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_harness_roundtrip_with_probe_widget(open_notebook, ui):
    nb = open_notebook([PROBE_CELL], ui, ready="[data-testid=probe-root][data-ready=true]")
    button = nb.page.get_by_test_id("probe-button")
    expect(button).to_have_text("clicks: 0")

    # browser -> kernel
    for _ in range(3):
        button.click()
    expect(button).to_have_text("clicks: 3")
    waited = nb.kernel.wait_for("p.clicks", 3)
    print(f"[browser] {ui}: kernel saw the 3rd click {waited:.2f} s after it was drawn")

    # kernel -> browser
    nb.kernel.execute("p.clicks = 10")
    expect(button).to_have_text("clicks: 10", timeout=10_000)

    # errors raised in the kernel surface as KernelError with the Python message
    with pytest.raises(AssertionError, match="ZeroDivisionError") as raised:
        nb.kernel.execute("1 / 0")
    assert type(raised.value).__name__ == "KernelError"
    assert nb.kernel.eval("{'a': [1, 2.5, None]}") == {"a": [1, 2.5, None]}

    # an exception thrown by the widget's own module is caught as a widget error
    assert nb.widget_errors() == []
    nb.page.get_by_test_id("probe-boom").click()
    deadline = time.monotonic() + 5
    while not nb.widget_errors() and time.monotonic() < deadline:
        nb.page.wait_for_timeout(50)
    errors = nb.take_widget_errors()
    assert any(re.search("probe widget failure", e) for e in errors), errors
    assert nb.widget_errors() == []
