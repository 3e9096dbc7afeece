"""Data in: datasets as people download them, and the ways a person brings them.

    layouts.py     the one reader: split folders, class folders or labels from file names
    classes.py     the class-name rules every way in shares (2..1,000 classes), counts in words
    folders.py     read and check a dataset folder (test split apart); stream it with tf.data
    leakage.py     photos copied across splits, by perceptual hash
    archives.py    a ZIP as tools write it: refused whole, or its entries read as meant
    uploads.py     new datasets from a visitor's photos per class or a ZIP
    walk.py        the bounded walk every listing of a server folder uses
    pets.py        download Oxford-IIIT Pet and lay it out as a dataset
    pet_layout.py  its photos by species or by breed; one layout made from the other
    choices.py     what a page may offer: datasets, validation folders, weights files, photos
    shards.py      --shard I/N of a sorted photo list, and the shard files `merge` joins
"""
