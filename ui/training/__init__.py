"""The Training screen, top to bottom.

bring_data.py    Bring data (Oxford-IIIT Pet, photos per class, a ZIP), beside Bring a model
import_model.py  a .keras or .h5 model checked, then imported
start.py         the start form, and the run a click asks for, started in the background
run_panel.py     the latest run, redrawn every second: progress, stop, curves, its mistakes
housekeeping.py  the disk's figures; deleting runs, datasets, folder results, after a dialog
"""
