"""Airflow operators: one per step family."""

from airflow_azml.operators.step import AzmlStepOperator, EstimatorStepOperator, PythonScriptStepOperator

__all__ = ["AzmlStepOperator", "PythonScriptStepOperator", "EstimatorStepOperator"]
