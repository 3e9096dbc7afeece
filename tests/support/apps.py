"""The app's pages through Streamlit's AppTest: one way to open a page, one default timeout, and
what a page shows read back.

`open_page` is the only `AppTest.from_file` of the tests and benchmarks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
from streamlit.testing.v1 import AppTest

from core.config import ROOT

APP = ROOT / "app.py"  # the Explain page, as `streamlit run app.py` opens it
PAGES = ROOT / "pages"

# How long one run of a page may take. AppTest's own default (3 s) is too short for a first run,
# which loads the model and traces its gradient functions; on two busy cores a page still running
# after this is a page that hangs.
PAGE_TIMEOUT = 120
# A page that builds ResNet-50 itself (zero-shot ImageNet, random weights offline).
RESNET_PAGE_TIMEOUT = 300


def open_page(
    page: str | Path = APP, timeout: float = PAGE_TIMEOUT, *, run: bool = True, **session_state
) -> AppTest:
    """`page` (a path, or one relative to the repository: "app.py", "pages/compare.py") in AppTest,
    `session_state` preset, and run once; `run=False` leaves the run to the caller (to set
    secrets or a user first)."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=timeout)
    for key, value in session_state.items():
        at.session_state[key] = value
    return at.run() if run else at


def shown_text(at: AppTest) -> str:
    """Everything the page sends the browser, element by element, expanders and tabs included."""
    texts = []

    def visit(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            texts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            visit(child)

    visit(at.main)
    visit(at.sidebar)
    return "\n".join(texts)


def top_chart(at: AppTest) -> pd.DataFrame:
    """The rows of the prediction's top-k bar chart (st.bar_chart sends them as Arrow)."""
    (chart,) = [e for e in at.main if getattr(e, "type", "") == "vega_lite_chart"]
    spec = json.loads(chart.proto.spec)
    assert spec["mark"]["type"] == "bar" and spec["encoding"]["y"]["field"] == "class"
    return pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_pandas()
