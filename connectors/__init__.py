"""Feed connectors: fetch feeds over HTTP, parse them, publish raw articles to Kafka.

Fetching (``fetch`` over the ``transport`` adapter, behind the ``safety``
address policy), parsing (``parse``, with the ``rss20`` fast reader) and
scheduling/publishing (``runner``) are kept apart, as in miniflux's reader:
the parse step is pure and takes bytes, never a URL or a path.
"""
