"""azureml.pipeline names."""

__all__: list[str] = []
