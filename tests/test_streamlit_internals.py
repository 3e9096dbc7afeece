"""What ui/streamlit_internals.py patches or reads of Streamlit's private parts is still there.

Each was written for one Streamlit (VERSION); an upgrade that renames or drops one fails here,
by name, rather than leaving the app slower or a first visitor on the wrong page list.
"""

from __future__ import annotations

import logging
import threading

import streamlit as st

from ui import streamlit_internals as internals


def test_the_version_the_patches_were_written_for_is_the_one_installed():
    # Not a failure of the app: a reminder to check every test below, then move VERSION on.
    assert st.__version__ == internals.VERSION, (
        f"Streamlit {st.__version__} installed; ui/streamlit_internals.py was written for "
        f"{internals.VERSION}: check each patch there, then update VERSION."
    )


def test_the_rerun_cleanup_hook_exists_and_is_replaced():
    from streamlit.runtime.scriptrunner import script_runner

    from ui import loading  # noqa: F401 - importing the loader puts the replacement in place

    assert callable(internals.STREAMLIT_CLEANUP), "script_runner._clean_problem_modules is gone"
    assert internals.STREAMLIT_CLEANUP.__module__ == script_runner.__name__
    assert script_runner._clean_problem_modules is internals.close_figures_only


def test_the_pages_directory_switch_is_a_class_attribute_streamlit_reads():
    from streamlit.runtime.pages_manager import PagesManager

    assert hasattr(PagesManager, "uses_pages_directory"), "PagesManager.uses_pages_directory gone"
    before = PagesManager.uses_pages_directory
    try:
        internals.leave_pages_directory_mode()
        assert PagesManager.uses_pages_directory is False
    finally:
        PagesManager.uses_pages_directory = before


def test_the_missing_context_warning_comes_from_the_logger_that_is_filtered():
    from streamlit.runtime.scriptrunner_utils import script_run_context

    logger = logging.getLogger(script_run_context.__name__)
    source = open(script_run_context.__file__).read()
    assert "missing ScriptRunContext" in source, "the warning moved: the filter hides nothing"
    thread = threading.Thread(name="quiet-test")
    before = list(logger.filters)
    try:
        internals.quiet_missing_context(thread)
        (added,) = [f for f in logger.filters if f not in before]
        quiet = logging.LogRecord("x", logging.WARNING, "", 0, "missing", None, None)
        quiet.threadName = "quiet-test"
        loud = logging.LogRecord("x", logging.WARNING, "", 0, "missing", None, None)
        assert not added(quiet) and added(loud)
    finally:
        logger.filters[:] = before


def test_the_emoji_table_and_the_logger_are_where_they_were():
    internals.load_emoji_table()  # string_util.is_emoji: an AttributeError if it moved
    assert isinstance(internals.logger("catdog"), logging.Logger)
    assert isinstance(internals.secrets(), dict)  # streamlit.errors still names its error


def test_every_chunk_the_page_preloads_is_in_streamlits_static_folder():
    # One file per name (test_app.py checks the page sends them): a renamed chunk fails here.
    chunks = internals.result_chunks()
    assert sorted(name.split(".")[0] for name in chunks) == sorted(internals.RESULT_CODE)
