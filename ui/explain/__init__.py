"""The explaining screens: Explain, and Compare and Side by side, which share its parts.

widgets.py       the model seen through its view, the Explain page's sidebar, what it holds
present.py       what the screens say of an explanation (no Streamlit): cost, captions, caveats
store.py         a store of explained photos whose entries know their size (no Streamlit)
cache.py         the one cache of explained photos every page shares, keyed by ExplanationKey
screen.py        the Explain page around its maps: the model, the prediction, the downloads
maps.py          the Explain page's maps: photo, map, overlay, the contrast row, every layer
checks.py        the Explain page's checks: faithfulness and the sanity check
compare.py       the Compare screen: every method at every layer
side_by_side.py  the Side by side screen: two models on one photo, and their difference
"""
