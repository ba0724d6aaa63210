"""azureml.contrib: the v1 preview packages that have an equivalent here (``contrib.notebook``)."""

__all__: list[str] = []
