"""catdog-gradcam's entry point (`streamlit run app.py`): its pages, as the sidebar names them.

`st.navigation` is the one navigation mechanism: Streamlit then ignores pages/ as a folder of
pages, and each page is a file there that draws one screen.

The file plays two parts. `streamlit run app.py` first reads it (without running it), finds the
`st.App` below, imports it as the module `app` and serves that app; the app then runs this same
file as the script of every page run, under the name "__main__".
"""

import contextlib
import threading

import streamlit as st

if __name__ == "__main__":
    st.set_page_config(page_title="catdog-gradcam", page_icon="🐾", layout="wide")
    st.navigation(
        [
            st.Page("pages/explain.py", title="Explain", icon="🔍", default=True),
            st.Page("pages/training.py", title="Training", icon="🏋️"),
            st.Page("pages/compare.py", title="Compare", icon="⚖️"),
            st.Page(
                "pages/side_by_side.py",
                title="Side by side",
                icon="🆚",
                url_path="side-by-side",
            ),
            st.Page("pages/folder.py", title="Folder", icon="🗂️", url_path="folder"),
        ]
    ).run()
else:
    from ui import streamlit_internals

    def _warm_model() -> None:
        from ui import loading  # TensorFlow's import: seconds, in this thread, not the server's

        loading.warm_up()

    @contextlib.asynccontextmanager
    async def at_start(_app: st.App):
        """Load the model when the server starts, so the first visitor does not wait for it.

        `st.App`'s lifespan is the one hook `streamlit run` offers at start-up: the classic server
        imports nothing of ours before a first visitor, and a thread started on import of a page or
        of ui/ would start with that visitor. The lifespan runs once, when the runtime is up; the
        model loads in a daemon thread so that the server answers /_stcore/health and pages at
        once. The thread fills `ui.loading._model`'s own cache entry: a visitor who comes meanwhile
        waits for that same load (st.cache_resource's per-key lock) and never loads a second copy.
        ui/loading.py's warm_up says what happens without a model and when the model changes.
        """
        # No session has started yet: none will get the pages/ folder's page list.
        streamlit_internals.leave_pages_directory_mode()
        threading.Thread(target=_warm_model, name="warm-model", daemon=True).start()
        yield

    app = st.App(__file__, lifespan=at_start)
