"""Module / ModuleVersion in the workspace registry, and ModuleStep compiled like a PythonScriptStep."""

from __future__ import annotations

import pytest

from airflow_azml.compiler import compile_pipeline
from airflow_azml.core import Experiment, Workspace
from airflow_azml.core.runconfig import CondaDependencies, RunConfiguration
from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core import Pipeline, PipelineData, PipelineParameter
from airflow_azml.pipeline.core.graph import InputPortDef, OutputPortDef
from airflow_azml.pipeline.core.module import Module, ModuleVersion
from airflow_azml.pipeline.steps import ModuleStep
from tests.conftest import write

# Sum and product of two numbers, read from files (inputs) or arguments, written to two files.
CALC = """
import argparse, os
from airflow_azml.core import Run
p = argparse.ArgumentParser()
p.add_argument("--arg_num1"); p.add_argument("--arg_num2")
p.add_argument("--file_num1"); p.add_argument("--file_num2")
p.add_argument("--output_sum"); p.add_argument("--output_product")
a = p.parse_args()
read = lambda path: float(open(path).read())
n1 = read(a.file_num1) if a.file_num1 else float(a.arg_num1)
n2 = read(a.file_num2) if a.file_num2 else float(a.arg_num2)
open(a.output_sum, "w").write(str(n1 + n2))
open(a.output_product, "w").write(str(n1 * n2))
run = Run.get_context()
run.log("sum", n1 + n2)
run.log("initialNum", os.environ.get("AML_PARAMETER_initialNum", "unset"))
run.log("in1", str(run.input_datasets.get("in1", "none")).startswith("/"))
"""


@pytest.fixture
def calc(workspace_dir):
    write(workspace_dir / "calc" / "calculate.py", CALC)
    return workspace_dir


def _ports(prefix: str = "") -> tuple[list[InputPortDef], list[OutputPortDef]]:
    ins = [InputPortDef("in1", label="First number"), InputPortDef("in2", default_datastore_mode="download")]
    outs = [OutputPortDef("out_sum", default_datastore_name="workspaceblobstore"), OutputPortDef("out_prod")]
    return ins, outs


def _module(ws, calc) -> tuple[Module, ModuleVersion, ModuleVersion]:
    module = Module.create(ws, name="AddAndMultiply", description="adds and multiplies")
    ins, outs = _ports()
    entry = module.publish_python_script(
        "calculate.py",
        "initial",
        inputs=[],
        outputs=outs,
        params={"initialNum": 12},
        version="1",
        source_directory=str(calc / "calc"),
    )
    middle = module.publish_python_script(
        "calculate.py",
        "middle",
        inputs=ins,
        outputs=outs,
        version="2",
        is_default=True,
        source_directory=str(calc / "calc"),
    )
    return module, entry, middle


def test_module_registry_versions_and_resolution(calc):
    ws = Workspace.from_config(calc)
    module, entry, middle = _module(ws, calc)
    again = Module.get(ws, name="AddAndMultiply")
    assert again.id == module.id and again.default_version == "2"
    assert [d.version for d in Module.get_versions(ws, "AddAndMultiply")] == ["1", "2"]
    assert Module.get(ws, module_id=module.id).name == "AddAndMultiply"
    assert entry.module().id == module.id and entry.version == "1"
    assert [p.name for p in middle.interface.inputs] == ["in1", "in2"]
    assert entry.interface.parameters == {"initialNum": 12}
    assert ModuleVersion.get(ws, middle.module_version_id).version == "2"
    assert again.resolve().version == "2"  # the default version
    assert again.resolve("1").version == "1"
    again._entry["default_version"] = None
    third = again.publish_python_script(
        "calculate.py", "x", [], [], version="10", source_directory=str(calc / "calc")
    )
    assert again.resolve().version == "10"  # highest dotted number, not the string order
    third.disable()
    assert Module.get(ws, name="AddAndMultiply").resolve().version == "2"
    again.set_default_version("1")
    assert Module.get(ws, name="AddAndMultiply").get_default().version == "1"
    again.deprecate()
    assert Module.get(ws, name="AddAndMultiply").status == "Deprecated"


def test_module_errors_are_clear(calc):
    ws = Workspace.from_config(calc)
    module, entry, _ = _module(ws, calc)
    with pytest.raises(UserErrorException, match="already exists"):
        Module.create(ws, "AddAndMultiply", "again")
    with pytest.raises(UserErrorException, match="already has a version '1'"):
        module.publish_python_script(
            "calculate.py", "d", [], [], version="1", source_directory=str(calc / "calc")
        )
    with pytest.raises(UserErrorException, match="'nope.py' not found"):
        module.publish_python_script("nope.py", "d", [], [], source_directory=str(calc / "calc"))
    with pytest.raises(UserErrorException, match="Did you mean 'AddAndMultiply'"):
        Module.get(ws, name="AddAndMultiplx")
    with pytest.raises(UserErrorException, match="no version '7'"):
        module.resolve("7")
    with pytest.raises(UserErrorException, match="not one of its versions"):
        module.set_default_version("9")
    with pytest.raises(UserErrorException, match="default_datastore_mode 'copy'"):
        InputPortDef("x", default_datastore_mode="copy")


def test_module_step_build_time_validation(calc):
    ws = Workspace.from_config(calc)
    module, entry, middle = _module(ws, calc)
    data = PipelineData("d")
    with pytest.raises(UserErrorException, match="exactly one of module= or module_version="):
        ModuleStep(module=module, module_version=entry)
    with pytest.raises(UserErrorException, match="exactly one of module= or module_version="):
        ModuleStep()
    with pytest.raises(UserErrorException, match=r"inputs_map key 'in3'.*Did you mean 'in2'"):
        ModuleStep(module=module, inputs_map={"in1": data, "in2": data, "in3": data})
    with pytest.raises(UserErrorException, match="input port 'in2' is required but not in inputs_map"):
        ModuleStep(module=module, inputs_map={"in1": data})
    with pytest.raises(UserErrorException, match="outputs_map key 'sum'"):
        ModuleStep(module_version=entry, outputs_map={"sum": data})
    with pytest.raises(UserErrorException, match="params key 'initial'"):
        ModuleStep(module_version=entry, params={"initial": 3})
    entry.disable()
    with pytest.raises(UserErrorException, match="version '1' of the module is disabled"):
        ModuleStep(module_version=entry)
    module.disable()
    with pytest.raises(UserErrorException, match="is disabled; call module.enable"):
        ModuleStep(module=module)


def test_module_step_compiles_to_a_python_script_plan(calc):
    ws = Workspace.from_config(calc)
    module, entry, middle = _module(ws, calc)
    s1, p1 = PipelineData("sum_out"), PipelineData("prod_out")
    num = PipelineParameter("initialNum", 17)
    rc = RunConfiguration(conda_dependencies=CondaDependencies.create(pip_packages=["tabulate"]))
    first = ModuleStep(
        module_version=entry,
        outputs_map={"out_sum": s1, "out_prod": p1},
        runconfig=rc,
        compute_target="cpu",
        arguments=["--output_sum", s1, "--output_product", p1, "--arg_num1", num, "--arg_num2", "2"],
    )
    second = ModuleStep(
        module=module,
        inputs_map={"in1": s1, "in2": p1},
        outputs_map={"out_sum": PipelineData("m_sum"), "out_prod": PipelineData("m_prod")},
        arguments=["--file_num1", s1, "--file_num2", p1],
        name="middle",
    )
    plan = compile_pipeline(Pipeline(ws, [first, second]), "module_plan")
    a, b = plan["steps"]["AddAndMultiply"], plan["steps"]["middle"]
    assert a["kind"] == "python_script" and a["operator"].endswith("PythonScriptStepOperator")
    assert a["script_name"] == "calculate.py" and a["source_directory"] == str((calc / "calc").resolve())
    assert a["arguments"][:2] == ["--output_sum", {"$output": "sum_out"}]
    assert a["params"] == {"initialNum": {"$param": "initialNum"}}  # the argument's parameter wins over 12
    assert a["environment"]["pip"] == ["tabulate"] and a["routing"] == {"queue": "cpu", "retries": 0}
    assert a["module"]["version"] == "1" and b["module"]["version"] == "2"
    assert [(i["name"], i["mode"], i["step"]) for i in b["inputs"]] == [
        ("in1", "mount", "AddAndMultiply"),
        ("in2", "download", "AddAndMultiply"),  # the port's default mode
    ]
    assert b["arguments"] == ["--file_num1", {"$input": "in1"}, "--file_num2", {"$input": "in2"}]
    assert plan["parameters"]["initialNum"]["default"] == 17


def test_module_arguments_are_the_default(calc):
    ws = Workspace.from_config(calc)
    module = Module.create(ws, name="M", description=None)
    ins, outs = _ports()
    version = module.publish_python_script(
        "calculate.py",
        "with args",
        inputs=ins,
        outputs=outs,
        source_directory=str(calc / "calc"),
        arguments=[
            "--file_num1",
            ins[0],
            "--file_num2",
            ins[1],
            "--output_sum",
            outs[0],
            "--output_product",
            outs[1],
        ],
    )
    assert version.version == "1"
    a, b, s, p = PipelineData("a"), PipelineData("b"), PipelineData("s"), PipelineData("p")
    step = ModuleStep(
        module_version=version, inputs_map={"in1": a, "in2": b}, outputs_map={"out_sum": s, "out_prod": p}
    )
    with pytest.raises(UserErrorException, match="port 'out_prod', which is not mapped"):
        ModuleStep(
            module_version=version,
            inputs_map={"in1": a, "in2": b},
            outputs_map={"out_sum": PipelineData("t")},
        )
    assert step._args == [
        "--file_num1",
        {"$input": "in1"},
        "--file_num2",
        {"$input": "in2"},
        "--output_sum",
        {"$output": "s"},
        "--output_product",
        {"$output": "p"},
    ]


@pytest.mark.slow
def test_module_steps_run_through_airflow(embedded_airflow_home, calc, azml_home):
    ws = Workspace.from_config(calc)
    module, entry, middle = _module(ws, calc)
    s1, p1 = PipelineData("sum_out", is_directory=False), PipelineData("prod_out")
    m_sum, m_prod = PipelineData("middle_sum"), PipelineData("middle_prod")
    first = ModuleStep(
        module_version=entry,
        outputs_map={"out_sum": s1, "out_prod": p1},
        arguments=[
            "--output_sum",
            s1,
            "--output_product",
            p1,
            "--arg_num1",
            PipelineParameter("initialNum", 17),
            "--arg_num2",
            "2",
        ],
    )
    second = ModuleStep(
        module=Module.get(ws, name="AddAndMultiply"),
        version="2",
        inputs_map={"in1": s1, "in2": p1},
        outputs_map={"out_sum": m_sum, "out_prod": m_prod},
        arguments=["--file_num1", s1, "--file_num2", p1, "--output_sum", m_sum, "--output_product", m_prod],
        name="middle",
    )
    run = Experiment(ws, "module_steps").submit(
        Pipeline(ws, [first, second]), pipeline_parameters={"initialNum": 5}
    )
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert run.find_step_run("AddAndMultiply")[0].get_metrics() == {
        "sum": 7.0,
        "initialNum": "5",
        "in1": False,
    }
    middle_run = run.find_step_run("middle")[0]
    assert middle_run.get_metrics() == {"sum": 17.0, "initialNum": "unset", "in1": True}  # 7 + 10
    out = middle_run.get_output_data("middle_prod").download(str(calc / "got"))
    assert open(out).read() == "70.0"


def test_unnamed_module_steps_share_the_module_name(calc):
    """v1 lets several steps carry the module's name; their task ids are numbered in step order."""
    ws = Workspace.from_config(calc)
    module, entry, middle = _module(ws, calc)
    a, b, c, d = (PipelineData(n) for n in "abcd")
    first = ModuleStep(module_version=entry, outputs_map={"out_sum": a, "out_prod": b})
    second = ModuleStep(module=module, inputs_map={"in1": a, "in2": b}, outputs_map={"out_sum": c})
    third = ModuleStep(module=module, inputs_map={"in1": c, "in2": b}, outputs_map={"out_sum": d})
    named = ModuleStep(module=module, inputs_map={"in1": d, "in2": b}, name="AddAndMultiply_2")
    plan = compile_pipeline(Pipeline(ws, [first, second, third, named]), "numbered")
    assert list(plan["steps"]) == [
        "AddAndMultiply",
        "AddAndMultiply_3",
        "AddAndMultiply_4",
        "AddAndMultiply_2",
    ]
    assert {s["name"] for s in plan["steps"].values()} == {"AddAndMultiply", "AddAndMultiply_2"}
    assert plan["steps"]["AddAndMultiply_3"]["inputs"][0]["step"] == "AddAndMultiply"


def test_data_references_and_bindings_are_renamed_to_their_ports(calc):
    from airflow_azml.data.data_reference import DataReference

    ws = Workspace.from_config(calc)
    module, entry, middle = _module(ws, calc)
    ref = DataReference(ws.get_default_datastore(), "raw", "numbers/one.txt", mode="download")
    source = PipelineData("source")
    binding = source.as_download(path_on_compute="n2.txt")
    step = ModuleStep(
        module=module,
        inputs_map={"in1": ref, "in2": binding},
        arguments=["--file_num1", ref, "--file_num2", binding],
    )
    assert [(d.name, d.source, d.mode) for d in step.inputs] == [
        ("in1", "datastore", "download"),
        ("in2", "step_output", "download"),
    ]
    assert step._args == ["--file_num1", {"$input": "in1"}, "--file_num2", {"$input": "in2"}]
    assert ref.data_reference_name == "raw" and binding.name == "source"  # the caller's objects are untouched
