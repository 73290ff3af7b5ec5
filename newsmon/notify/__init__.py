"""``newsmon notify``: deliver alerts from the alert topics to webhooks, chat, e-mail and push.

``config`` loads the YAML file, ``render`` builds each sink's message (pure),
``policy`` holds routing, backoff, rate limits, digests and the dedup window
(pure), ``sinks`` sends, and ``consumer`` is the Kafka loop.
"""
