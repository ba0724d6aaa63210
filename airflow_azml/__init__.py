"""airflow-azml: the Azure ML SDK v1 pipeline programming model, running on Apache Airflow 3.

Importing this package never imports Airflow: the user model, the compiler and the step
runtime are pure Python, so step processes and notebooks start fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
