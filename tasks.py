"""Command line: `inv --list`. Each task only parses options and calls populator.cli.*.

Exit codes: 0 success, 1 job failed, 2 bad input, 3 still running at --timeout, 130 cancelled.
"""

from invoke import task

# ---- run_emr / list_runs -------------------------------------------------------------------
# (owned by populator/cli/run_emr.py and populator/cli/list_runs.py)

# ---- run_local / demo ----------------------------------------------------------------------
# (owned by populator/cli/run_local.py and populator/cli/demo.py)
