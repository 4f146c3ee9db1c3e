"""``posetrack bench``: ``measure`` (timing and the other measuring primitives), ``suite`` (the sections of one
bench run, as ``BenchSuite``), ``report`` (Markdown, JSON and plots in ``benchmarks/``)."""

MODELS = ("demo", "detector", "w32", "w48")  # what `posetrack bench --models` measures (w32/w48: random weights)
