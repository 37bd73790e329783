"""The figures: one module per figure rule (matplotlib only, no TensorFlow).

One module each, so that a change to one figure's code redraws only that figure; what
they share is in `style`.
"""
