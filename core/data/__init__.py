"""Data in: dataset folders in the Kaggle layout, and the ways a person brings them.

    classes.py     the class-name rules every way in shares (2..1,000 classes), counts in words
    folders.py     read and check a train/ + validation/ folder; stream it with tf.data
    uploads.py     new datasets from a visitor's photos per class or a ZIP
    pets.py        download Oxford-IIIT Pet and lay it out as a dataset
    pet_layout.py  its photos by species or by breed; one layout made from the other
    choices.py     what a page may offer: datasets, validation folders, weights files, photos
    shards.py      --shard I/N of a sorted photo list, and the shard files `merge` joins
"""
