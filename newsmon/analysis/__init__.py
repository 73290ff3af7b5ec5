"""Pure analysis: canonical URLs, text, entities, tension, alert decisions.

Nothing in this package imports Kafka or Faust; the stream agents and the
offline ``newsmon analyze`` command both call :class:`newsmon.analysis.pipeline.Analyzer`.
"""
