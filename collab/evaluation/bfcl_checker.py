"""BFCL's AST checker for Python function calls: parse a model's call, match it to the answers.

A reimplementation, for the ``simple``, ``multiple`` and ``parallel`` categories, of the
Berkeley Function Calling Leaderboard's ``ast_checker`` (``bfcl_eval/eval_checker/ast_eval/
ast_checker.py``, Apache 2.0): the function name must be the expected one, every required
parameter present, every given parameter known, of its declared type (an int passes for a
float) and among the acceptable values; an acceptable-value list holding ``""`` marks the
parameter optional.
Strings compare case-insensitively, ignoring spaces and ``,./-_*^``. Unlike BFCL, parsing never
``eval``s model output: arithmetic on number literals is folded, anything else kept as text.

A parsed call is ``{name: {param: value}}``, as in BFCL; ``parse_calls`` reads Python
(``f(a=1)``, ``[f(a=1), g(b=2)]``) and JSON (``{"name": ..., "arguments": {...}}`` and lists).
"""

from __future__ import annotations

import ast
import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

__all__ = ["Call", "Check", "check_call", "check_calls", "parse_calls"]

Call = dict[str, dict[str, Any]]
"""One function call: ``{function_name: {parameter: value}}``."""

Category = Literal["simple", "multiple", "parallel"]

_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_NESTED = {"array", "tuple"}
_FENCE = re.compile(r"```[a-zA-Z0-9]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_CALL_START = re.compile(r"[A-Za-z_][\w.]*\s*\(")


@dataclass(frozen=True, slots=True)
class Check:
    """Whether a model's calls match, and if not the first reason why."""

    valid: bool
    error: str = ""
    error_type: str = ""


_OK = Check(True)


# -- parsing ---------------------------------------------------------------------------------


def parse_calls(text: str) -> list[Call]:
    """The function calls in a model's answer; ``ValueError`` when it holds none."""
    fenced = [block for block in _FENCE.findall(text) if block.strip()]
    body = (fenced[0] if fenced else text).strip().strip("`").strip()
    if not body:
        raise ValueError("the answer is empty")
    if body[0] in "[{":
        try:
            return _calls_from_json(json.loads(body))
        except (json.JSONDecodeError, ValueError):
            pass  # not JSON calls: maybe a Python list of calls
    try:
        return _calls_from_python(body)
    except (SyntaxError, ValueError):
        pass
    for line in body.splitlines():  # a call inside prose: "Sure! f(a=1)."
        for start in _CALL_START.finditer(line):
            candidate = line[start.start() :].rstrip().rstrip(".;,")
            try:
                return _calls_from_python(candidate)
            except (SyntaxError, ValueError):
                continue
    raise ValueError(f"no function call found in {text[:80]!r}")


def _calls_from_python(source: str) -> list[Call]:
    wrapped = source.strip("'")
    if not wrapped.startswith("["):
        wrapped = f"[{wrapped}]"
    tree = ast.parse(wrapped, mode="eval").body
    elements = tree.elts if isinstance(tree, ast.List | ast.Tuple) else [tree]
    if not elements or not all(isinstance(e, ast.Call) for e in elements):
        raise ValueError("not a list of calls")
    return [_call(e) for e in elements if isinstance(e, ast.Call)]


def _call(node: ast.Call) -> Call:
    name = ast.unparse(node.func)
    return {name: {kw.arg: _value(kw.value) for kw in node.keywords if kw.arg is not None}}


def _value(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return "..." if node.value is Ellipsis else node.value
    if isinstance(node, ast.List):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_value(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return {_value(k): _value(v) for k, v in zip(node.keys, node.values, strict=True) if k}
    if isinstance(node, ast.Name):
        return node.id  # a variable: BFCL compares its name as a string
    if isinstance(node, ast.Call) and node.keywords:
        return _call(node)
    number = _arithmetic(node)
    return number if number is not None else ast.unparse(node)


_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


def _arithmetic(node: ast.expr) -> int | float | complex | None:
    """The value of arithmetic on number literals (``-5``, ``2**10``, ``1/3``), else None."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float | complex):
            return None
        return value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _arithmetic(node.operand)
        if operand is None:
            return None
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _arithmetic(node.left), _arithmetic(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            return None  # no 10**10**10 from a model's output
        try:
            return _OPERATORS[type(node.op)](left, right)  # type: ignore[no-any-return]
        except (ArithmeticError, ValueError, TypeError):
            return None
    return None


def _calls_from_json(data: Any) -> list[Call]:
    entries = data if isinstance(data, list) else [data]
    if not entries:
        raise ValueError("an empty list of calls")
    return [_json_call(entry) for entry in entries]


def _json_call(entry: Any) -> Call:
    if not isinstance(entry, dict):
        raise ValueError("a JSON call must be an object")
    name = entry.get("name", entry.get("function"))
    if isinstance(name, dict):  # OpenAI's {"function": {"name": ..., "arguments": ...}}
        return _json_call(name)
    if isinstance(name, str):
        arguments = entry.get("arguments", entry.get("parameters", {}))
        if isinstance(arguments, str):
            arguments = json.loads(arguments)
        if not isinstance(arguments, dict):
            raise ValueError("a JSON call's arguments must be an object")
        return {name: arguments}
    if len(entry) == 1 and isinstance(next(iter(entry.values())), dict):
        return dict(entry)  # already {name: {param: value}}
    raise ValueError("a JSON call needs a name")


# -- checking --------------------------------------------------------------------------------


def check_calls(
    functions: Sequence[Mapping[str, Any]],
    calls: Sequence[Call],
    ground_truth: Sequence[Mapping[str, Mapping[str, list[Any]]]],
    *,
    category: Category,
) -> Check:
    """BFCL's verdict: for ``simple`` and ``multiple`` exactly one call, the right one; for
    ``parallel`` one call per expected one, in any order, each model call matching at most one
    answer (BFCL's ``parallel_function_checker_no_order``: answers in turn, each taking the
    first still-unmatched call it accepts)."""
    if len(calls) != len(ground_truth):
        return Check(False, "wrong number of functions", f"{category}:wrong_count")
    if category == "parallel":
        return _unordered(functions, calls, ground_truth)
    expected = next(iter(ground_truth[0]))
    if category == "simple":
        description: Mapping[str, Any] | None = functions[0]
    else:
        description = _description(functions, expected)
        if description is None:
            return Check(False, f"no function doc for {expected!r}", "multiple:no_doc")
    return check_call(description, calls[0], ground_truth[0])


def _description(functions: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    return next((f for f in functions if f.get("name") == name), None)


def _unordered(
    functions: Sequence[Mapping[str, Any]],
    calls: Sequence[Call],
    ground_truth: Sequence[Mapping[str, Mapping[str, list[Any]]]],
) -> Check:
    matched: set[int] = set()
    for number, answer in enumerate(ground_truth):
        expected = next(iter(answer))
        description = _description(functions, expected)
        if description is None:
            return Check(False, f"no function doc for {expected!r}", "parallel:no_doc")
        found = next(
            (
                i
                for i, call in enumerate(calls)
                if i not in matched and check_call(description, call, answer).valid
            ),
            None,
        )
        if found is None:
            return Check(
                False,
                f"no call matches expected call {number} ({expected})",
                "parallel:cannot_find_match",
            )
        matched.add(found)
    return _OK


def check_call(
    description: Mapping[str, Any], call: Call, answer: Mapping[str, Mapping[str, list[Any]]]
) -> Check:
    """One call against one function's doc and its acceptable values (BFCL's simple checker)."""
    acceptable = next(iter(answer.values()))
    name = description["name"]
    properties = description["parameters"]["properties"]
    if name not in call:
        return Check(False, f"function {name!r} not called", "wrong_func_name")
    given = call[name]
    for param in description["parameters"].get("required", []):
        if param not in given:
            return Check(False, f"missing required parameter {param!r}", "missing_required")
    for param, raw in given.items():
        if param not in properties or param not in acceptable:
            return Check(False, f"unexpected parameter {param!r}", "unexpected_param")
        result = _check_value(param, raw, properties[param], acceptable[param])
        if not result.valid:
            return result
    for param, values in acceptable.items():
        if param not in given and "" not in values:
            return Check(False, f"parameter {param!r} not given", "missing_optional")
    return _OK


def _check_value(param: str, value: Any, spec: Mapping[str, Any], acceptable: list[Any]) -> Check:
    type_name = spec.get("type", "any")
    expected = _TYPES.get(type_name, str)
    nested = None
    if type_name in _NESTED and isinstance(spec.get("items"), Mapping):
        nested = _TYPES.get(spec["items"].get("type", "any"), str)
    if type_name == "tuple" and type(value) is tuple:
        value = list(value)
    if type_name == "float" and type(value) is int:
        value = float(value)
    typed = _type_check(param, value, acceptable, type_name, expected, nested)
    if not typed.valid:
        return typed.check
    if not typed.is_variable:
        if expected is dict:
            return _dict_check(param, value, acceptable)
        if expected is list and nested is dict:
            return _list_of_dicts_check(param, value, acceptable)
        if expected is str:
            return _string_check(param, value, acceptable)
        if expected is list:
            return _list_check(param, value, acceptable)
    if value not in acceptable:
        return Check(False, f"{param}={value!r} is not one of {acceptable}", "value_error:others")
    return _OK


@dataclass(frozen=True, slots=True)
class _Typed:
    check: Check
    is_variable: bool = False

    @property
    def valid(self) -> bool:
        return self.check.valid


def _type_check(
    param: str,
    value: Any,
    acceptable: list[Any],
    type_name: str,
    expected: type,
    nested: type | None,
) -> _Typed:
    """BFCL's type checker: a value of the declared type, or a "variable" (the type of the
    acceptable values when those differ from the declared one)."""
    answer_type = next((type(a) for a in acceptable if a != ""), None)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if nested is None:
            return _Typed(_OK, is_variable)
        members = cast("list[Any]", value)
        for answer in acceptable:
            if type(answer) is not list or all(
                _type_check(param, member, answer, nested.__name__, nested, None).valid
                for member in members
            ):
                return _Typed(_OK, is_variable)
        message = f"{param}: items of {value!r} are not all {nested.__name__}"
        return _Typed(Check(False, message, "type_error:nested"))
    if answer_type is not None and type(value) is answer_type:
        return _Typed(_OK, is_variable=True)
    message = f"{param}: expected {type_name}, got {type(value).__name__} {value!r}"
    return _Typed(Check(False, message, "type_error:simple"))


def _standard(text: str) -> str:
    """BFCL's string standardisation: no spaces or ``,./-_*^``, lower case, double quotes."""
    return re.sub(r"[ ,./\-_*^]", "", text).lower().replace("'", '"')


def _standard_item(value: Any) -> Any:
    return _standard(value) if type(value) is str else value


def _string_check(param: str, value: str, acceptable: list[Any]) -> Check:
    if _standard(value) in [_standard(a) for a in acceptable if type(a) is str]:
        return _OK
    return Check(False, f"{param}={value!r} is not one of {acceptable}", "value_error:string")


def _list_check(param: str, value: list[Any], acceptable: list[Any]) -> Check:
    given = [_standard_item(v) for v in value]
    options = [[_standard_item(v) for v in a] if isinstance(a, list) else [] for a in acceptable]
    if given in options:
        return _OK
    return Check(False, f"{param}={value!r} is not one of {acceptable}", "value_error:list")


def _dict_check(param: str, value: dict[str, Any], acceptable: list[Any]) -> Check:
    failure = Check(False, f"{param}={value!r} is not one of {acceptable}", "value_error:dict")
    for answer in acceptable:
        if answer == "" or not isinstance(answer, dict):
            continue
        fits = all(
            key in answer and _standard_item(v) in [_standard_item(a) for a in answer[key]]
            for key, v in value.items()
        ) and all(key in value or "" in values for key, values in answer.items())
        if fits:
            return _OK
    return failure


def _list_of_dicts_check(param: str, value: list[Any], acceptable: list[Any]) -> Check:
    for answer in acceptable:
        if len(value) != len(answer):
            continue
        if all(
            isinstance(v, dict) and _dict_check(param, v, [a]).valid
            for v, a in zip(value, answer, strict=True)
        ):
            return _OK
    message = f"{param}={value!r} is not one of {acceptable}"
    return Check(False, message, "value_error:list_dict")
