"""One module per model family, each with `fit(data, config) -> Part`."""
