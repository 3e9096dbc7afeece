"""`python -m core`: the command line, running the same code as the pages.

    commands.py  each command's body: explain, evaluate, train, import-model, merge, download-data
    options.py   the commands and their options (argparse)
    batch.py     the batch side: --layer's layers, a shard's settings, merging shards
"""
