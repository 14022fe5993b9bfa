"""`python -m bench.jobs` runs the job benchmarks' command line."""

from bench.jobs.cli import main

raise SystemExit(main())
