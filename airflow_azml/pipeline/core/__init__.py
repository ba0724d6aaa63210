"""azureml.pipeline.core: Pipeline, PipelineData, PipelineParameter, runs, publishing, schedules."""

from airflow_azml._lazy import lazy_exports

_EXPORTS = {
    "Pipeline": "airflow_azml.pipeline.core.pipeline",
    "StepSequence": "airflow_azml.pipeline.core.pipeline",
    "PipelineData": "airflow_azml.pipeline.core.pipeline_data",
    "InputPortBinding": "airflow_azml.pipeline.core.pipeline_data",
    "PipelineOutputFileDataset": "airflow_azml.pipeline.core.pipeline_data",
    "PipelineOutputTabularDataset": "airflow_azml.pipeline.core.pipeline_data",
    "PipelineParameter": "airflow_azml.pipeline.core.graph",
    "InputPortDef": "airflow_azml.pipeline.core.graph",
    "OutputPortDef": "airflow_azml.pipeline.core.graph",
    "Module": "airflow_azml.pipeline.core.module",
    "ModuleVersion": "airflow_azml.pipeline.core.module",
    "ModuleVersionDescriptor": "airflow_azml.pipeline.core.module",
    "PipelineStep": "airflow_azml.pipeline.core.builder",
    "TrainingOutput": "airflow_azml.pipeline.core.training_output",
    "PipelineRun": "airflow_azml.pipeline.core.run",
    "StepRun": "airflow_azml.pipeline.core.run",
    "PortDataReference": "airflow_azml.pipeline.core.run",
    "StepRunOutput": "airflow_azml.pipeline.core.run",
    "PublishedPipeline": "airflow_azml.pipeline.core.published",
    "PipelineEndpoint": "airflow_azml.pipeline.core.pipeline_endpoint",
    "PipelineDraft": "airflow_azml.pipeline.core.pipeline_draft",
    "Schedule": "airflow_azml.pipeline.core.schedule",
    "ScheduleRecurrence": "airflow_azml.pipeline.core.schedule",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
