"""The network: its layer table (what every stage knows of the layers), building it in Keras,
loading a trained one, its forward pass, receptive fields and projections back to pixels."""
