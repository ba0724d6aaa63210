"""azureml.contrib.pipeline: the older preview home of ParallelRunStep."""

__all__: list[str] = []
