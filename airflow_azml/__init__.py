"""airflow-azml: the Azure ML SDK v1 pipeline programming model, running on Apache Airflow 3.

Importing this package never imports Airflow: the user model, the compiler and the step
runtime are pure Python, so step processes and notebooks start fast.
"""

__version__ = "0.1.0"

# The Airflow side moved into airflow_azml.provider; its old import paths still resolve.
from airflow_azml._moved import install as _install_moved_paths  # noqa: E402

_install_moved_paths()

__all__ = ["__version__"]
