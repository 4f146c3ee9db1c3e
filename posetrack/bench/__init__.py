"""``posetrack bench``: ``measure`` (timing and the other measuring primitives), ``suite`` (the sections of one
bench run, as ``BenchSuite``), ``report`` (Markdown, JSON and plots in ``benchmarks/``)."""
