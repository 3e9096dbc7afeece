"""Explaining a model's decision: the Explainer and what the pages show of it.

    explainer.py     Explainer: a batch of photos -> predictions and CAMs at every layer, one pass
    settings.py      what the Explain page asks for: the photo, the settings, one explanation key
    display.py       the pages' helpers: the app's model, a photo at display size, maps, downloads
    figures.py       the numbers the Explain page shows beside a map, and its checks' tables
    guide.py         the Explain page's longer texts
    overlay.py       colour a [0, 1] map and blend it over the photo
    faithfulness.py  deletion/insertion curves and the sanity check (cascading randomisation)
    localization.py  pointing game and energy share against Oxford-IIIT Pet's masks
    compare.py       every method at every layer (Guided Backprop once), its time and deletion AUC
    evaluation.py    `evaluate`'s figures per photo, method and layer, and their table of means
    gradients.py     a guided method's signed 3-channel gradient as a picture (grey at 0)
    side_by_side.py  two models on one photo: shared targets, both maps on its grid, A minus B
    caveats.py       when a map means little: flat, a tiny photo, a near-chance model, in words
"""
