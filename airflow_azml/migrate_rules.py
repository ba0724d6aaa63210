"""What ``azml migrate`` knows about Azure ML SDK v1 names, kept as data so it is easy to extend.

Three verdicts: ``unchanged`` (runs as it is once ``airflow_azml.compat.enable()`` is called,
or after the imports are rewritten), ``change`` (needs an edit, the advice says which) and
``unsupported`` (nothing in airflow_azml does it). A name under ``azureml.*`` that no table
mentions is ``change``: it is not provided by airflow_azml.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CALL_RULES",
    "CHANGE",
    "INSTANCE_RULES",
    "KNOWN_MODULES",
    "MODULE_RULES",
    "NAME_RULES",
    "STAR",
    "SUPPORTED",
    "UNCHANGED",
    "UNKNOWN",
    "UNSUPPORTED",
    "USE_RULES",
    "CallRule",
    "Rule",
    "module_rule",
    "name_rule",
    "prefixes",
]

UNCHANGED = "unchanged"
CHANGE = "change"
UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Rule:
    """A verdict and the advice shown with it."""

    category: str
    advice: str = ""


@dataclass(frozen=True)
class CallRule:
    """A verdict on a call, given only when the call passes one of ``keywords`` (or any
    positional argument, when ``positional``). ``pattern`` is an fnmatch pattern over
    ``Class`` or ``Class.method``."""

    pattern: str
    rule: Rule
    keywords: frozenset[str] = frozenset()
    positional: bool = False


SUPPORTED: dict[str, frozenset[str]] = {
    "azureml.core": frozenset(
        "Workspace Experiment Datastore Dataset Run Environment ScriptRunConfig VERSION".split()
    ),
    "azureml.core.compute": frozenset(
        "ComputeTarget AmlCompute DatabricksCompute AdlaCompute DataFactoryCompute".split()
    ),
    "azureml.core.compute_target": frozenset({"ComputeTargetException"}),
    "azureml.core.runconfig": frozenset({"RunConfiguration", "DEFAULT_CPU_IMAGE"}),
    "azureml.core.conda_dependencies": frozenset({"CondaDependencies"}),
    "azureml.core.environment": frozenset({"CondaDependencies"}),
    "azureml.core.authentication": frozenset({"InteractiveLoginAuthentication"}),
    "azureml.data": frozenset({"OutputFileDatasetConfig", "TabularDataset", "FileDataset"}),
    "azureml.data.data_reference": frozenset({"DataReference"}),
    "azureml.data.datapath": frozenset({"DataPath", "DataPathComputeBinding"}),
    "azureml.data.dataset_consumption_config": frozenset({"DatasetConsumptionConfig"}),
    "azureml.data.sql_data_reference": frozenset({"SqlDataReference"}),
    "azureml.pipeline.core": frozenset(
        "Pipeline PipelineData PipelineParameter StepSequence PipelineRun StepRun "
        "PublishedPipeline PipelineEndpoint Schedule ScheduleRecurrence".split()
    ),
    "azureml.pipeline.core.graph": frozenset({"PipelineParameter"}),
    "azureml.pipeline.core.schedule": frozenset({"Schedule", "ScheduleRecurrence"}),
    "azureml.pipeline.steps": frozenset(
        "PythonScriptStep EstimatorStep CommandStep DataTransferStep DatabricksStep AdlaStep".split()
    ),
    "azureml.train.estimator": frozenset({"Estimator"}),
    "azureml.train.sklearn": frozenset({"SKLearn"}),
    "azureml.train.dnn": frozenset({"PyTorch", "TensorFlow", "Mpi", "Gloo", "Nccl"}),
    "azureml.widgets": frozenset({"RunDetails"}),
}

_NO_DEPLOY = (
    "no model deployment in airflow_azml: serve the model outside the pipeline (the pipeline can "
    "write it to a datastore or register it as a dataset)"
)
_MODEL = Rule(
    CHANGE,
    "no model registry: write the model to an OutputFileDatasetConfig and register it with "
    ".register_on_complete(name), then load it with Dataset.get_by_name()",
)

MODULE_RULES: dict[str, Rule] = {
    "azureml.core.webservice": Rule(UNSUPPORTED, _NO_DEPLOY),
    "azureml.train.hyperdrive": Rule(
        UNSUPPORTED,
        "no HyperDrive: run a tuning library (e.g. Optuna) inside one PythonScriptStep, or fan out "
        "PythonScriptSteps over PipelineParameter values",
    ),
    "azureml.train.automl": Rule(UNSUPPORTED, "no AutoML: train the model yourself in a PythonScriptStep"),
}

NAME_RULES: dict[tuple[str, str], Rule] = {
    ("azureml.core", "Model"): _MODEL,
    ("azureml.core.model", "Model"): _MODEL,
    ("azureml.core.model", "InferenceConfig"): Rule(UNSUPPORTED, _NO_DEPLOY),
    ("azureml.core.authentication", "ServicePrincipalAuthentication"): Rule(
        CHANGE,
        "credentials go into Airflow connections: store the service principal in a connection "
        "and pass conn_id= where a credential is needed; drop the auth= argument",
    ),
    ("azureml.core.authentication", "MsiAuthentication"): Rule(
        CHANGE,
        "credentials go into Airflow connections: configure managed identity on the Airflow "
        "connection and pass conn_id=; drop the auth= argument",
    ),
    ("azureml.pipeline.steps", "HyperDriveStep"): MODULE_RULES["azureml.train.hyperdrive"],
    ("azureml.pipeline.steps", "AutoMLStep"): MODULE_RULES["azureml.train.automl"],
    ("azureml.pipeline.steps", "ParallelRunStep"): Rule(
        UNSUPPORTED,
        "no ParallelRunStep: split the input over several PythonScriptSteps, or parallelize "
        "inside one script",
    ),
    ("azureml.pipeline.steps", "ParallelRunConfig"): Rule(
        UNSUPPORTED, "no ParallelRunStep (see ParallelRunStep)"
    ),
    ("azureml.pipeline.steps", "ModuleStep"): Rule(
        UNSUPPORTED, "no module registry: call the module's script with a PythonScriptStep"
    ),
    ("azureml.pipeline.core", "Module"): Rule(
        UNSUPPORTED, "no module registry: call the module's script with a PythonScriptStep"
    ),
    ("azureml.pipeline.steps", "MpiStep"): Rule(
        UNSUPPORTED, "use EstimatorStep or CommandStep with distributed_training=Mpi(...)"
    ),
    ("azureml.pipeline.steps", "AzureBatchStep"): Rule(
        UNSUPPORTED, "no Azure Batch: run the command with a CommandStep"
    ),
    ("azureml.pipeline.steps", "KustoStep"): Rule(
        UNSUPPORTED, "no Kusto step: query Azure Data Explorer from a PythonScriptStep"
    ),
    ("azureml.pipeline.steps", "SynapseSparkStep"): Rule(
        UNSUPPORTED, "no Synapse: run the Spark job with a DatabricksStep"
    ),
}

_SECRET = (
    "works, but the secret sits in the code: move it into an Airflow connection and pass "
    'conn_id="..." instead of {keywords}'
)

CALL_RULES: tuple[CallRule, ...] = (
    CallRule(
        "Workspace",
        Rule(
            CHANGE,
            "write the workspace file (config.json) and use Workspace.from_config() instead of "
            "naming the subscription, resource group and workspace in code",
        ),
        frozenset({"subscription_id", "resource_group", "workspace_name"}),
        positional=True,
    ),
    CallRule(
        "Datastore.register_*",
        Rule(CHANGE, _SECRET.format(keywords="account_key/sas_token/client_secret/password")),
        frozenset({"account_key", "sas_token", "client_secret", "password"}),
    ),
    CallRule(
        "DatabricksCompute.attach_configuration",
        Rule(
            CHANGE,
            'use DatabricksCompute.attach_configuration(conn_id="...") with an Airflow Databricks '
            "connection instead of resource_group/workspace_name/access_token",
        ),
        frozenset({"resource_group", "workspace_name", "access_token"}),
        positional=True,
    ),
)

_FROM_CONFIG = Rule(
    CHANGE,
    "use Workspace.from_config(), which reads the workspace file (config.json); there is no "
    "Azure ML service to look the workspace up in",
)
_DOCKER = Rule(
    CHANGE,
    "runs in the Airflow worker's Python environment (with a logged note) unless a compute target "
    "that runs containers is configured in the workspace file",
)

USE_RULES: dict[str, Rule] = {
    "Workspace.get": _FROM_CONFIG,
    "Workspace.create": _FROM_CONFIG,
    "Model.register": _MODEL,
    "Model.deploy": Rule(UNSUPPORTED, _NO_DEPLOY),
    "Environment.from_docker_image": _DOCKER,
    "Environment.from_dockerfile": _DOCKER,
    "ComputeTarget.create": Rule(
        UNCHANGED,
        "note: runs, but creates no cluster; the target name maps to Airflow routing (queue, pool, "
        "executor) configured in the workspace file",
    ),
}

# Attribute chains on objects whose type is not known (``run_config.environment.docker.enabled``),
# checked only in files that import azureml.
INSTANCE_RULES: dict[tuple[str, ...], Rule] = {
    ("docker", "enabled"): _DOCKER,
    ("docker", "base_image"): _DOCKER,
    ("register_model",): _MODEL,
}

UNKNOWN = Rule(CHANGE, "unknown — not provided by airflow_azml")
STAR = Rule(CHANGE, "star import: import the names explicitly so that each can be checked")
_UNCHANGED = Rule(UNCHANGED)


def prefixes(module: str) -> list[str]:
    """``a.b.c`` -> ``["a.b.c", "a.b", "a"]``."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


_SUPPORTED_MODULES = frozenset(p for module in SUPPORTED for p in prefixes(module))
KNOWN_MODULES = frozenset(
    p for module in [*SUPPORTED, *MODULE_RULES, *(m for m, _ in NAME_RULES)] for p in prefixes(module)
)


def module_rule(module: str) -> Rule:
    """The verdict on importing ``module`` itself."""
    for prefix in prefixes(module):
        if prefix in MODULE_RULES:
            return MODULE_RULES[prefix]
    return _UNCHANGED if module in _SUPPORTED_MODULES else UNKNOWN


def name_rule(module: str, name: str) -> Rule:
    """The verdict on ``name`` taken from ``module``."""
    if (module, name) in NAME_RULES:
        return NAME_RULES[(module, name)]
    if f"{module}.{name}" in KNOWN_MODULES:
        return module_rule(f"{module}.{name}")
    rule = module_rule(module)
    if rule.category == UNSUPPORTED:
        return rule
    return _UNCHANGED if name in SUPPORTED.get(module, ()) else UNKNOWN
