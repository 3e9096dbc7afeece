"""The Folder screen: a folder's photos explained in the background, then what came of it.

start.py    the sidebar (model, folder or uploads, method) and the job a click starts
results.py  the job's progress or results: provenance, figures, table, gallery, ZIP
view.py     the job's widgets: progress, filters, table, paged gallery, one photo opened
present.py  what the screen says (no Streamlit): folders offered, progress, captions
"""
