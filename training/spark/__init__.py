"""The Spark engine of `recsvc train --engine spark`: the same bundle, trained on a cluster."""
