"""azureml.train.sklearn: SKLearn estimator (single node)."""

from airflow_azml.train.estimator import MMLBaseEstimator

__all__ = ["SKLearn"]


class SKLearn(MMLBaseEstimator):
    framework_name = "SKLearn"
    single_node_only = True
