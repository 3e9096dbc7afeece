"""Explaining a model's decision: the Explainer and what the pages show of it.

    explainer.py     Explainer: one photo batch -> predictions and CAMs at every layer, one pass
    display.py       the pages' helpers: the loaded app model, a photo at display size, downloads
    overlay.py       colour a [0, 1] map and blend it over the photo
    faithfulness.py  deletion/insertion curves and the sanity check (cascading randomisation)
    localization.py  pointing game and energy share against Oxford-IIIT Pet's masks
    compare.py       every method at every layer, with time and deletion AUC
"""
