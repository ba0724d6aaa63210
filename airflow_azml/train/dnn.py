"""azureml.train.dnn: PyTorch / TensorFlow estimators and distribution configurations."""

from __future__ import annotations

from airflow_azml.train.estimator import MMLBaseEstimator

__all__ = ["PyTorch", "TensorFlow", "Chainer", "Mpi", "Gloo", "Nccl", "ParameterServer"]


class PyTorch(MMLBaseEstimator):
    framework_name = "PyTorch"


class TensorFlow(MMLBaseEstimator):
    framework_name = "TensorFlow"


class Chainer(MMLBaseEstimator):
    framework_name = "Chainer"


class _Distribution:
    backend = "base"

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Mpi(_Distribution):
    backend = "mpi"

    def __init__(self, process_count_per_node: int = 1):
        self.process_count_per_node = process_count_per_node


class Gloo(_Distribution):
    backend = "gloo"


class Nccl(_Distribution):
    backend = "nccl"


class ParameterServer(_Distribution):
    backend = "parameter_server"

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1):
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count
