"""What the tests expect EMR to be sent, written once (literals, not the product's constants:
a change to the product's step arguments must fail these tests)."""

# The head of every spark-submit step: cluster mode, one driver attempt, no speculation.
SPARK_SUBMIT_HEAD = ["spark-submit", "--deploy-mode", "cluster", "--conf"]
SPARK_SUBMIT_HEAD += ["spark.yarn.maxAppAttempts=1", "--conf", "spark.speculation=false"]
