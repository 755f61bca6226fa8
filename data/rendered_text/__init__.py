"""The pieces of the rendered-text set (`data/text_pictures.py`): fonts, words, backgrounds, inking, layouts."""
