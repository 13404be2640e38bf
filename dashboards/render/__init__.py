"""Renderers: model -> files. Each returns {relative path: text}; __main__ writes or diffs them."""
