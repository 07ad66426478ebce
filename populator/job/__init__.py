"""The PySpark populator job (entry point: spark_jobs/populate_manifest.py). Python 3.9."""
