"""azureml.pipeline.core: Pipeline, PipelineData, PipelineParameter, runs, publishing, schedules."""

from airflow_azml.pipeline.core.builder import PipelineStep
from airflow_azml.pipeline.core.graph import PipelineParameter
from airflow_azml.pipeline.core.pipeline import Pipeline, StepSequence
from airflow_azml.pipeline.core.pipeline_data import (
    InputPortBinding,
    PipelineData,
    PipelineOutputFileDataset,
    PipelineOutputTabularDataset,
)
from airflow_azml.pipeline.core.published import PipelineEndpoint, PublishedPipeline
from airflow_azml.pipeline.core.run import PipelineRun, PortDataReference, StepRun
from airflow_azml.pipeline.core.schedule import Schedule, ScheduleRecurrence, TimeZone

__all__ = [
    "Pipeline",
    "PipelineData",
    "PipelineParameter",
    "PipelineStep",
    "StepSequence",
    "InputPortBinding",
    "PipelineOutputFileDataset",
    "PipelineOutputTabularDataset",
    "PipelineRun",
    "StepRun",
    "PortDataReference",
    "PublishedPipeline",
    "PipelineEndpoint",
    "Schedule",
    "ScheduleRecurrence",
    "TimeZone",
]
