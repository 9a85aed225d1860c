.PHONY: run test lint bench faults services-stop

run:            ## set up and run the platform on embedded defaults
	scripts/run.sh

test:           ## the whole test suite (SQLite + real PostgreSQL and Redis), ruff, migrations check
	scripts/test.sh

lint:
	.venv/bin/ruff check .

bench:          ## benchmarks: JSON lines (name, value, unit) on stdout
	scripts/bench.sh

faults:         ## the fault run: workers killed, Redis and PostgreSQL restarted, platform errors; JSON lines
	scripts/faults.sh

services-stop:
	scripts/services.sh stop
