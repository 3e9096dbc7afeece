"""A model's whole life, one module per stage; this face imports none of them.

    keras_internals.py the two private Keras APIs leant on, each with its version and test
    preprocessing.py   what 0-255 pixels become (caffe, tf, torch, rescale, none): one layer
    tokens.py          transformers: tokens on their patch grid, blocks, the default that reaches
    graph.py           how a graph is read: flattened, its layers with a map, offered, the default
    info.py            what a model is: its sidecar (ModelInfo), a loaded Classifier, its
                       probabilities; the model file and sidecar saved and read as one pair
    build.py           how the app's ResNet-50 is built: fine-tuned head, or zero-shot ImageNet
    custom_objects.py  a model's own layer classes, from the operator's trusted module only
    safe_load.py       a person's model file, checked without running it, loaded in safe mode
    facts.py           a person's model read: input, outputs, layers, a proposed preprocessing,
                       and the one model every consumer explains (`explained_model`)
    imported.py        a person's model imported to weights/imported/ and explained
    load.py            how every kind is loaded: a run's, copied in, imported, zero-shot
    catalog.py         which models exist, each with its facts and the key its cache uses

Each module imports only modules above it in this list; training, explaining and the pages import
these, never the reverse (tests/test_house.py finds any import circle).
"""
