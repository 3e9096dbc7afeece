"""The Explain page's checks, each made when a person asks for it: is this map faithful (deletion
and insertion), and does it pass the sanity check (cascading randomisation)?"""

from __future__ import annotations

import functools
from dataclasses import asdict

import streamlit as st

from core.cams import is_guided
from core.explain import figures, guide
from core.explain.explainer import Explainer
from core.explain.faithfulness import faithfulness_passes, sanity_steps
from core.explain.settings import Check, View
from ui.explain import present
from ui.slots import button_result


def show_checks(view: View, explainer: Explainer) -> None:
    """Under their expander: what the checks mean, then each one's button and result."""
    with st.expander("Is this map faithful?"):
        st.caption(guide.FAITHFULNESS)
        if is_guided(view.settings.method):
            st.caption(guide.GUIDED_SANITY)
        check = Check(view.key, view.settings.layer)
        show_faithfulness(view, explainer, check)
        show_sanity(view, explainer, check)


def show_faithfulness(view: View, explainer: Explainer, check: Check) -> None:
    """Deletion and insertion AUCs against a random map's, and their curves, once asked for."""
    passes = faithfulness_passes()
    measured = button_result(
        f"Measure faithfulness ({passes} forward passes)",
        "measure",
        check,
        "measure faithfulness",
        lambda step: explainer.faithfulness(view.picture, view.explanation, check.layer),
        "Deleting and inserting pixels",
        passes,
    )
    if measured is None:
        return
    metrics = figures.faithfulness_metrics(measured)
    for column, metric in zip(st.columns(len(metrics)), metrics):
        column.metric(**asdict(metric))
    curves = figures.faithfulness_curves(measured)
    st.line_chart(curves, x_label="fraction of pixels", y_label=f"P({view.explanation.scored})")


def show_sanity(view: View, explainer: Explainer, check: Check) -> None:
    """Adebayo et al.'s cascading randomisation, once asked for: each step's figures, a verdict."""
    steps = button_result(
        "Sanity check: randomise the top layers of a copy",
        "sanity_check",
        check,
        "run the sanity check",
        functools.partial(
            explainer.sanity_check, view.picture, check.layer, check.target, check.method
        ),
        "Randomising a copy of the model, layer group by layer group",
        sanity_steps(explainer.classifier.model),
        "steps",
    )
    if steps is None:
        return
    show_verdict(steps, check.method)


def show_verdict(steps: list[dict], method: str) -> None:
    """The sanity check's table and verdict; a guided method's "fail" says Adebayo et al. found
    the same."""
    st.dataframe(figures.sanity_table(steps), hide_index=True)
    kind, line = present.sanity_line(steps, method)
    getattr(st, kind)(line)
