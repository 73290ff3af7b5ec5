# Benchmarks (docs/performance.md): scripts that print tables, on a real local broker.
# The README's two commands are scripts/run and scripts/test; this file adds only these.
PY := .venv/bin/python

.PHONY: bench bench-memory setup

setup:
	bash scripts/setup

# The feed farm, then the pipeline: passthrough ceiling, end to end against the obvious
# pipeline, latency at half the sustained rate, per-stage costs, memory over 50,000
# small articles. About half an hour on the 2-core machine.
bench: setup
	$(PY) -m bench.feedfarm
	$(PY) -m bench.pipeline

# Worker RSS over 1,000,000 small articles (20 samples): about two hours.
bench-memory: setup
	$(PY) -m bench.pipeline --sections memory --small 1000000 --samples 20
