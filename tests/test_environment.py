"""The machine record: what float results depend on, merged per stage into reports/environment.json."""
import json
import subprocess
import sys

import pytest

from stages.lib import environment
from tests.conftest import ROOT

HASWELL = "avx2 avx sse4_1 sse4_2 fma"
ALDER_LAKE = HASWELL + " avx_vnni"
SKYLAKE_X = HASWELL + " avx512f avx512dq avx512bw avx512vl avx512cd"
CASCADE_LAKE = SKYLAKE_X + " avx512_vnni"
ZEN4 = CASCADE_LAKE + " avx512_bf16 avx_vnni"
SAPPHIRE_RAPIDS = ZEN4 + " avx512_fp16 amx_tile amx_int8 amx_bf16"


def cpuinfo(flags: str, model: str = "Some CPU @ 2.00GHz", key: str = "flags") -> str:
    block = f"processor\t: {{n}}\nvendor_id\t: GenuineIntel\nmodel name\t: {model}\n{key}\t\t: {flags}\n\n"
    return block.format(n=0) + block.format(n=1).replace(model, "other")


def isa(flags: str, max_isa=None, machine: str = "x86_64") -> str:
    return environment.cpu_isa(environment.cpu_info(cpuinfo(flags))[1], machine, max_isa)


def test_the_first_processor_s_model_and_flags_are_read_from_cpuinfo_text():
    model, flags = environment.cpu_info(cpuinfo(ZEN4, model="AMD EPYC 9R14"))
    assert model == "AMD EPYC 9R14" and {"avx512_bf16", "avx_vnni", "sse4_1"} <= flags
    assert environment.cpu_info("") == ("", set())


@pytest.mark.parametrize("flags, expected", [
    (SAPPHIRE_RAPIDS, "avx512_core_amx"), (ZEN4, "avx512_core_bf16"), (CASCADE_LAKE, "avx512_core_vnni"),
    (SKYLAKE_X, "avx512_core"), (ALDER_LAKE, "avx2_vnni"), (HASWELL, "avx2"), ("sse4_1 avx", "avx"),
    ("sse sse2 sse4_1", "sse41"), ("avx512f avx512bw avx512vl sse4_1 avx avx2", "avx2")])  # no avx512dq
def test_the_highest_simd_level_the_cpu_offers_is_detected(flags, expected):
    assert isa(flags) == expected


def test_a_cpu_without_x86_simd_is_named_by_its_machine():
    flags = environment.cpu_info(cpuinfo("fp asimd evtstrm aes", key="Features"))[1]
    assert environment.cpu_isa(flags, "aarch64") == "aarch64"
    assert environment.cpu_isa(set(), "arm64", "avx2") == "arm64"


@pytest.mark.parametrize("flags, max_isa, expected", [
    (SAPPHIRE_RAPIDS, "AVX2", "avx2"), (SAPPHIRE_RAPIDS, "avx512_core_vnni", "avx512_core_vnni"),
    (SAPPHIRE_RAPIDS, "AVX512_CORE_FP16", "avx512_core_bf16"), (SAPPHIRE_RAPIDS, "avx10_1_512_amx", "avx512_core_amx"),
    (ZEN4, "Avx2_Vnni", "avx2_vnni"), (ZEN4, "sse41", "sse41"),
    (ALDER_LAKE, "AVX512_CORE", "avx2"),  # oneDNN's levels are sets: avx512_core does not include avx2_vnni
    (HASWELL, "AVX512_CORE_AMX", "avx2"),  # a cap above the CPU changes nothing
    (ZEN4, "DEFAULT", "avx512_core_bf16"), (ZEN4, "ALL", "avx512_core_bf16"), (ZEN4, "nonsense", "avx512_core_bf16"),
    (ZEN4, "", "avx512_core_bf16")])
def test_onednn_max_cpu_isa_caps_the_level_case_insensitively(flags, max_isa, expected):
    assert isa(flags, max_isa) == expected


def test_describe_says_what_numerics_depend_on_from_cpuinfo_and_the_variables():
    environ = {"ONEDNN_MAX_CPU_ISA": "AVX2", "OMP_NUM_THREADS": "1", "HOME": "/home/someone"}
    described = environment.describe(cpuinfo(ZEN4, model="AMD EPYC 9R14"), environ)
    assert list(described) == ["cpu_model", "cpu_isa", "onednn", "cores", "os", "python", "packages", "variables"]
    assert (described["cpu_model"], described["cpu_isa"]) == ("AMD EPYC 9R14", "avx2")
    assert list(described["packages"]) == ["tensorflow", "keras", "numpy", "scikit-learn", "scipy", "pandas"]
    assert described["packages"]["numpy"] == __import__("numpy").__version__
    assert described["variables"] == {name: environ.get(name) for name in environment.VARIABLES}
    assert described["python"] == ".".join(map(str, sys.version_info[:3]))
    for off in ("0", "false", "FALSE"):
        assert environment.describe(cpuinfo(ZEN4), {"TF_ENABLE_ONEDNN_OPTS": off})["onednn"] is False


def test_a_missing_package_is_none():
    assert environment._version(("no-such-distribution-here",)) is None
    assert environment._version(("no-such-distribution-here", "numpy")) == __import__("numpy").__version__


def test_the_same_machine_gives_the_same_description_quickly_and_without_tensorflow():
    code = ("import json, sys, time; from stages.lib import environment; start = time.perf_counter(); "
            "first = environment.describe(); took = time.perf_counter() - start; "
            "print(json.dumps([first, environment.describe(), took, 'tensorflow' in sys.modules, "
            "'numpy' in sys.modules]))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    first, second, took, tensorflow, numpy = json.loads(run.stdout)
    assert first == second == environment.describe()  # the test's process is another process, same machine
    assert took < 0.5 and not tensorflow and not numpy
    assert environment.machine_id(first) == environment.machine_id(json.loads(json.dumps(first, sort_keys=True)))


MACHINE_A = environment.describe(cpuinfo(ZEN4, model="AMD EPYC 9R14"), {})
MACHINE_B = {**MACHINE_A, "cpu_isa": "avx2", "packages": {**MACHINE_A["packages"], "tensorflow": "0.1"}}
ID_A, ID_B = environment.machine_id(MACHINE_A), environment.machine_id(MACHINE_B)


def test_record_merges_stages_and_drops_machines_no_stage_refers_to(tmp_path):
    path = tmp_path / "reports/environment.json"
    assert environment.record("overfit", path, MACHINE_A) == ID_A and len(ID_A) == 12 and ID_A != ID_B
    environment.record("regularize", path, MACHINE_A)
    assert json.loads(path.read_text()) == {"machines": {ID_A: json.loads(json.dumps(MACHINE_A))},
                                            "stages": {"overfit": ID_A, "regularize": ID_A}}
    environment.record("overfit", path, MACHINE_B)
    saved = json.loads(path.read_text())
    assert saved["stages"] == {"overfit": ID_B, "regularize": ID_A} and set(saved["machines"]) == {ID_A, ID_B}
    environment.record("regularize", path, MACHINE_B)
    saved = json.loads(path.read_text())
    assert saved["stages"] == {"overfit": ID_B, "regularize": ID_B} and list(saved["machines"]) == [ID_B]
    assert saved["machines"][ID_B]["cpu_isa"] == "avx2"


def test_the_record_is_byte_identical_on_a_second_call_with_keys_sorted(tmp_path):
    path = tmp_path / "environment.json"
    environment.record("regularize", path, MACHINE_A)
    environment.record("overfit", path, MACHINE_A)
    first = path.read_bytes()
    environment.record("overfit", path, MACHINE_A)
    assert path.read_bytes() == first
    assert first.decode() == json.dumps(json.loads(first), indent=2, sort_keys=True) + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["environment.json"]  # no temporary left behind


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"machines": []}', "\xff\xfe"])
def test_a_corrupt_record_is_replaced_with_a_one_line_warning(tmp_path, capsys, content):
    path = tmp_path / "environment.json"
    path.write_bytes(content.encode("latin-1"))
    environment.record("evaluate", path, MACHINE_A)
    assert json.loads(path.read_text()) == {"machines": {ID_A: json.loads(json.dumps(MACHINE_A))},
                                            "stages": {"evaluate": ID_A}}
    warning = capsys.readouterr().err
    assert warning.startswith(f"warning: {path} is unreadable") and warning.count("\n") == 1


def test_a_missing_record_loads_empty_without_a_warning(tmp_path, capsys):
    assert environment.load(tmp_path / "environment.json") == {"machines": {}, "stages": {}}
    assert capsys.readouterr().err == ""


def test_differences_name_the_dotted_keys_that_differ():
    assert environment.differences(MACHINE_A, MACHINE_A) == []
    assert environment.differences(MACHINE_A, MACHINE_B) == ["cpu_isa", "packages.tensorflow"]
    older = {key: value for key, value in MACHINE_A.items() if key != "python"}
    older["variables"] = {**MACHINE_A["variables"], "OMP_NUM_THREADS": "4"}
    older["retired"] = 1
    assert environment.differences(older, MACHINE_A) == ["python", "variables.OMP_NUM_THREADS", "retired"]


def test_the_summary_names_cpu_isa_cores_os_and_versions():
    text = environment.summary(MACHINE_A)
    assert text.startswith(f"AMD EPYC 9R14 (avx512_core_bf16, {MACHINE_A['cores']} cores, {MACHINE_A['os']}, TF ")
    assert f"NumPy {MACHINE_A['packages']['numpy']})" in text
