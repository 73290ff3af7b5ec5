"""newsmon: a streaming news monitor.

Feeds -> Kafka (``news.raw``) -> Faust agents (exact dedup, entities, tension)
-> ``news.articles`` and ``news.alerts``, with Prometheus metrics at every stage.

The analysis (``newsmon.analysis``) is pure Python and knows nothing of Kafka;
the agents in ``streams`` and the offline ``newsmon analyze`` command call the
same code.
"""

__version__ = "0.1.0"
