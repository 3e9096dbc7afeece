"""Data in: dataset folders in the Kaggle layout, and the ways a person brings them.

    folders.py   read and check a train/ + validation/ folder; stream it with tf.data
    uploads.py   new datasets from a visitor's photos per class or a ZIP
    pets.py      download Oxford-IIIT Pet and lay it out as a dataset
    choices.py   what a page may offer: datasets, validation folders, weights files, photos
"""
