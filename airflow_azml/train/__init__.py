"""azureml.train names."""

__all__: list[str] = []
