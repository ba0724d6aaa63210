"""azureml.train.hyperdrive: sweeps of a training script over a parameter space, as in v1.

Pure model (no Airflow, no Optuna at import): expressions, samplings, policies and the config.
"""

from airflow_azml.train.hyperdrive.config import HyperDriveConfig, PrimaryMetricGoal
from airflow_azml.train.hyperdrive.parameter_expressions import (
    choice,
    lognormal,
    loguniform,
    normal,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    randint,
    uniform,
)
from airflow_azml.train.hyperdrive.policy import (
    BanditPolicy,
    EarlyTerminationPolicy,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    TruncationSelectionPolicy,
)
from airflow_azml.train.hyperdrive.sampling import (
    BayesianParameterSampling,
    GridParameterSampling,
    HyperParameterSampling,
    RandomParameterSampling,
)

__all__ = [
    "HyperDriveConfig",
    "PrimaryMetricGoal",
    "HyperParameterSampling",
    "RandomParameterSampling",
    "GridParameterSampling",
    "BayesianParameterSampling",
    "EarlyTerminationPolicy",
    "BanditPolicy",
    "MedianStoppingPolicy",
    "TruncationSelectionPolicy",
    "NoTerminationPolicy",
    "choice",
    "randint",
    "uniform",
    "quniform",
    "loguniform",
    "qloguniform",
    "normal",
    "qnormal",
    "lognormal",
    "qlognormal",
]
