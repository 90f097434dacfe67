"""Widgets that work on the static website with no kernel, and live ones for Jupyter.

The kernel-free form pre-renders one output per setting and links a slider to an
``ipywidgets.Stack`` with ``jslink``: moving the slider only changes which child is
shown, which the browser does by itself. The live form (:func:`live`) recomputes in the
kernel and so only works in Jupyter.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display
from matplotlib.figure import Figure

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def figure_to_png(fig: Figure, dpi: int | None = None) -> bytes:
    """Render a figure to PNG bytes and close it (so it is not also shown inline)."""
    buffer = io.BytesIO()
    fig.savefig(
        buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None}
    )
    plt.close(fig)
    return buffer.getvalue()


def figure_widget(fig: Figure, alt: str, dpi: int | None = None) -> widgets.HTML:
    """A pre-rendered figure as a widget: an ``<img>`` with alt text.

    Any browser shows it without a kernel.
    """
    import base64

    data = base64.b64encode(figure_to_png(fig, dpi)).decode("ascii")
    alt = alt.replace('"', "&quot;")
    return widgets.HTML(
        f'<img src="data:image/png;base64,{data}" alt="{alt}" '
        'style="max-width:100%;height:auto">'
    )


def slider_stack(
    panels: Sequence[widgets.Widget], labels: Sequence[str], description: str
) -> widgets.VBox:
    """A slider over ``labels`` that shows the matching panel.

    It works on the static site (``jslink``).
    """
    if len(panels) != len(labels) or not panels:
        raise ValueError(
            "panels and labels must be non-empty and of equal length, got "
            f"{len(panels)} and {len(labels)}"
        )
    slider = widgets.SelectionSlider(
        options=list(labels),
        value=labels[0],
        description=description,
        continuous_update=True,
        style={"description_width": "initial"},
        layout=widgets.Layout(width="95%"),
    )
    stack = widgets.Stack(list(panels), selected_index=0)
    widgets.jslink((slider, "index"), (stack, "selected_index"))
    return widgets.VBox([slider, stack])


def figure_slider(
    figures: Sequence[Figure],
    labels: Sequence[str],
    description: str,
    alts: Sequence[str],
    dpi: int | None = None,
) -> widgets.VBox:
    """:func:`slider_stack` over pre-rendered figures, each with its own alt text."""
    return slider_stack(
        [figure_widget(f, a, dpi) for f, a in zip(figures, alts)], labels, description
    )


def show(widget: widgets.Widget, summary: str) -> None:
    """Display a widget with a short, stable text form.

    The text is what nbval compares and what plain-text front ends show.
    """
    display(
        {
            WIDGET_MIME: {
                "version_major": 2,
                "version_minor": 0,
                "model_id": widget.model_id,
            },
            "text/plain": summary,
        },
        raw=True,
    )


def live(
    function: Callable[..., None], summary: str, **controls: widgets.Widget
) -> widgets.VBox:
    """A live widget: ``function(**values)`` re-runs whenever a control moves.

    It re-runs in the kernel (Jupyter only).

    Nothing runs until a control moves, so executing the cell has no output of its own
    (nbval compares it).
    """
    if not controls:
        raise ValueError(
            "live needs at least one control, e.g. r=ipywidgets.IntSlider(...)"
        )
    out = widgets.Output()

    def update(_change: object = None) -> None:
        with out:
            out.clear_output(wait=True)
            function(**{name: control.value for name, control in controls.items()})
            plt.show()

    for control in controls.values():
        control.observe(update, names="value")
    hint = widgets.HTML(
        "<em>Move a control to recompute (needs a running Python kernel).</em>"
    )
    box = widgets.VBox([*controls.values(), hint, out])
    show(box, summary)
    return box
