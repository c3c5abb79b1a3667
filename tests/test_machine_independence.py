"""A rule for the tests themselves: they pass on any CPU.

A test that reads the machine it runs on (environment.describe() without a cpuinfo text, /proc/cpuinfo,
platform.machine(), platform.processor(), os.cpu_count()) must not name an instruction set literally
in the same function (or at module level, for module-level code): no string with avx..., sse...,
amx..., neon, asimd..., sve..., x86, x86_64, amd64, aarch64 or arm64 in it, docstrings aside. A
literal there is what the host's value gets compared with, and it holds on some CPUs only: "another
machine" at avx2 is this machine on an AVX2 CPU. Derive what must differ from the host's own record
instead (environment.ISA_LEVELS minus the host's level, the host's model name changed).

Invented machines stay free to name any instruction set: environment.describe(cpuinfo_text, environ)
and hand-written descriptions never read the host's CPU.
"""
import ast
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ISA_NAME = re.compile(r"\b(avx\w*|sse\d*\w*|amx(_\w+)?|neon|asimd\w*|sve\d*|x86(_64)?|amd64|aarch64|arm64)\b",
                      re.IGNORECASE)
HOST_CALLS = {"_read_cpuinfo", "machine", "processor", "cpu_count", "uname"}


def _name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def _reads_host(nodes: list) -> bool:
    for node in (n for top in nodes for n in ast.walk(top)):
        if isinstance(node, ast.Call):
            name = _name(node)
            if name in HOST_CALLS or (name == "describe" and not node.args
                                      and "cpuinfo" not in {keyword.arg for keyword in node.keywords}):
                return True
        if isinstance(node, ast.Constant) and node.value == "/proc/cpuinfo":
            return True
    return False


def _docstrings(tree: ast.AST) -> set:
    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef,
                                                          ast.ClassDef))]
    return {id(scope.body[0].value) for scope in scopes if scope.body and isinstance(scope.body[0], ast.Expr)
            and isinstance(scope.body[0].value, ast.Constant)}


def violations(source: str, filename: str = "<test>") -> list:
    """'file:line: name' for every literal instruction-set name in a scope that reads the host's machine."""
    tree = ast.parse(source, filename)
    skip = _docstrings(tree)
    module_level = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    functions = [[n] for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    found = set()
    for scope in [module_level, *functions]:
        if not _reads_host(scope):
            continue
        for node in (n for top in scope for n in ast.walk(top)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                found |= {f"{filename}:{node.lineno}: {match.group(0)}" for match in ISA_NAME.finditer(node.value)}
    return sorted(found)


def test_no_test_compares_the_host_with_a_literal_instruction_set():
    found = [v for path in sorted(TESTS.glob("*.py")) for v in violations(path.read_text(), path.name)]
    assert found == [], "derive the other machine from the host's description instead:\n" + "\n".join(found)


@pytest.mark.parametrize("source, flagged", [
    # the test of issue 26, which failed on an AVX2 CPU
    ("def test_note():\n    here = describe()\n    elsewhere = {**here, 'cpu_isa': 'avx2'}\n", ["<test>:3: avx2"]),
    ("def test_f():\n    assert f'({environment.describe()[\"cpu_isa\"]}' != '(AVX512_core, 2 cores'\n",
     ["<test>:2: AVX512_core"]),
    ("import platform\nHOST = platform.machine()\nassert HOST != 'x86_64'\n", ["<test>:3: x86_64"]),
    ("def test_f():\n    text = open('/proc/cpuinfo').read()\n    assert 'neon' not in text\n", ["<test>:3: neon"]),
    # derived from the host, invented machines, other scopes and docstrings: allowed
    ("def test_f():\n    here = describe()\n    other = next(n for n, _ in ISA_LEVELS if n != here['cpu_isa'])\n", []),
    ("def test_f():\n    assert describe(environ={'ONEDNN_MAX_CPU_ISA': 'avx2'})['cpu_isa'] == 'avx2'\n",
     ["<test>:2: avx2"]),  # the host's CPU, capped: at avx on an AVX-only one
    ("def test_f():\n    assert describe(cpuinfo('avx2 avx sse4_1'), {})['cpu_isa'] == 'avx2'\n", []),
    ("def test_f():\n    here = describe()\n\ndef test_g():\n    assert isa('avx2') == 'avx2'\n", []),
    ("def test_f():\n    '''Failed on an AVX2 machine.'''\n    here = describe()\n", []),
    ("def test_f():\n    assert describe()['os'] != 'assessment of svelte sessions'\n", []),
])
def test_the_rule_flags_literal_instruction_sets_next_to_the_host_only(source, flagged):
    assert violations(source) == flagged
