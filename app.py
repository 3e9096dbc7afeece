"""catdog-gradcam's entry point (`streamlit run app.py`): its pages, as the sidebar names them.

`st.navigation` is the one navigation mechanism: Streamlit then ignores pages/ as a folder of
pages, and each page is a file there that draws one screen.
"""

import streamlit as st

st.set_page_config(page_title="catdog-gradcam", page_icon="🐾", layout="wide")
st.navigation(
    [
        st.Page("pages/explain.py", title="Explain", icon="🔍", default=True),
        st.Page("pages/training.py", title="Training", icon="🏋️"),
        st.Page("pages/compare.py", title="Compare", icon="⚖️"),
    ]
).run()
