"""The screens' code, which imports Streamlit (so it is not in `core/`); pages/ draws with it.

One folder per screen, each with its widgets, caches and presenters (a presenter turns core's
results into what the screen says, in a module that never imports Streamlit: `present.py`):

    explain/     the explaining screens: Explain, and Compare and Side by side beside it, sharing
                 its widgets, its presenters and the one cache of explained photos
    training/    the Training screen: bring data or a model, the start form, the run panel, disk
    folder/      the Folder screen: a folder's photos explained in the background, its results

What two screens share, once, above them:

    config.py               the one Config, and public mode's switch, read once per process
    loading.py              the model loader: one cached entry per model, warmed at start
    models.py               the model picker, its choice kept across pages
    photos.py               the photo widgets (upload, camera, a random validation photo)
    access.py               who may train in public mode; what a visitor may read
    slots.py                expensive actions bounded per process, their bars with Cancel,
                            buttons whose work runs later
    streamlit_internals.py  every use of Streamlit's private parts, each with its version

Nothing is imported here: app.py reads streamlit_internals.py before TensorFlow is loaded.
"""
