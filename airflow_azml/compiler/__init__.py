"""Compiler: Pipeline -> Plan, engine-neutral JSON-able data (its shape: ``compiler/types.py``). Never imports Airflow."""

from airflow_azml.compiler.plan import PLAN_FORMAT, compile_pipeline, load_plan, plan_to_json

__all__ = ["compile_pipeline", "plan_to_json", "load_plan", "PLAN_FORMAT"]
