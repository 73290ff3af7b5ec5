"""The worker's stage decisions, pure: each takes its state as a ``MutableMapping`` that
is a Faust table in the worker (``streams``) and a dict offline (``newsmon analyze``,
``newsmon rules test``), so both run the same code. Nothing here knows Kafka."""
