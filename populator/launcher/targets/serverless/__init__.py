"""EMR Serverless: the backfill as a job run on an existing or a per-backfill application.

`request` builds the requests (pure), `submit` sends them once behind the duplicate guard,
`watch` follows the job run, `cancel` stops it, `logs` finds a failure's cause, `deps` says
what the job needs from the image, `target` ties them into the Target protocol and
`run_serverless`, the function the CLI calls.
"""

from populator.launcher.targets.serverless.options import HELP, ServerlessOptions
from populator.launcher.targets.serverless.run import run_serverless
from populator.launcher.targets.serverless.target import ServerlessTarget, outcome_json

__all__ = ["HELP", "ServerlessOptions", "ServerlessTarget", "outcome_json", "run_serverless"]
