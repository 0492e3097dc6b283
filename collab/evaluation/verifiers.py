"""Program verifiers: judges that check a draft by running or parsing it, not by asking a model.

For code, the docstring's own examples run in the sandbox are a far better judge than a small
model's logits; for a function call, whether it parses as a call of an offered function with
the right parameters is. Each verifier has the cascade's judge signature
``(question, draft, judge_prompt) -> probability`` so it plugs in wherever a pattern takes a
judge. ``check(question, draft)`` says 1.0 when every check passes, 0.0 when one fails, and
``None`` when there is nothing to check (no runnable example, not an arithmetic question);
called as a judge, ``None`` becomes ``no_evidence`` (default 0.5). ``FirstVerdict`` chains
verifiers and falls back to another judge (the SLM's own logits) where none applies::

    judge = FirstVerdict(DocstringExamples(), Arithmetic(), fallback=cascade.self_check(slm))
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from collab.evaluation.bfcl_checker import parse_calls
from collab.evaluation.datasets import Dataset
from collab.evaluation.humaneval import extract_code
from collab.evaluation.sandbox import run_python

__all__ = [
    "Arithmetic",
    "DocstringExamples",
    "Example",
    "FirstVerdict",
    "ProgramVerifier",
    "ToolCallShape",
    "Verifier",
    "docstring_examples",
    "program_verifier",
]

ProgramVerifier = Callable[[str, str, str], float]
"""``(question, draft, judge_prompt) -> probability``: the cascade's ``Judge`` shape."""


class Verifier:
    """A program check of a draft; subclasses implement ``check``."""

    name = "program"
    no_evidence: float = 0.5

    def check(self, question: str, draft: str) -> float | None:
        """1.0 (passes), 0.0 (fails) or ``None`` (nothing to check)."""
        raise NotImplementedError

    def __call__(self, question: str, draft: str, _judge_prompt: str = "") -> float:
        verdict = self.check(question, draft)
        return self.no_evidence if verdict is None else verdict


_DOCSTRING_ENDS = frozenset({chr(34) * 3, chr(39) * 3})
_PROMPT_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)
_DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)
_SEPARATOR = re.compile(
    r"\s*(?:#\s*)?(?:==>|=>|->|➞|→|==|=|should\s+return|returns|return)\s*", re.IGNORECASE
)
_COMMENT = re.compile(r"\s*#.*$|\s+\((?=[A-Za-z]).*$")


@dataclass(frozen=True, slots=True)
class Example:
    """One example from a docstring: a call and the value it should give."""

    call: str
    expected: str


def docstring_examples(source: str, entry_point: str) -> list[Example]:
    """The runnable examples in ``entry_point``'s docstring: ``>>> call`` followed by its value,
    and one-line forms such as ``call == value``, ``call ==> value``, ``call ➞ value``,
    ``call returns value`` or ``call should return value``. Examples that are not a call of
    ``entry_point`` on literals with a literal value (free text, pseudo-code) are skipped."""
    lines = source.splitlines()
    examples: list[Example] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip().lstrip("*-").strip()
        if line.startswith(">>>") and _one_line_example(line[3:], entry_point) is None:
            call = line[3:].strip()
            i += 1
            value = ""
            # The expected value: the fewest following lines that make an expression.
            while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(">>>"):
                if lines[i].strip() in _DOCSTRING_ENDS:
                    break
                value = f"{value} {lines[i].strip()}".strip()
                i += 1
                if _is_literal(value):
                    break
            examples.append(Example(call, value))
            continue
        example = _one_line_example(line.removeprefix(">>>"), entry_point)
        if example is not None:
            examples.append(example)
        i += 1
    return [
        e for e in examples if _is_call_on_literals(e.call, entry_point) and _is_literal(e.expected)
    ]


def _one_line_example(line: str, entry_point: str) -> Example | None:
    """``call SEP value`` on one line, split where both sides make sense."""
    line = line.strip()
    if not line.startswith(entry_point + "("):
        return None
    for match in _SEPARATOR.finditer(line):
        call = line[: match.start()].strip()
        value = _COMMENT.sub("", line[match.end() :]).strip().rstrip(".,;").strip()
        if _is_call_on_literals(call, entry_point) and _is_literal(value):
            return Example(call, value)
    return None


def _is_call_on_literals(text: str, entry_point: str) -> bool:
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name)):
        return False
    if tree.func.id != entry_point:
        return False
    arguments = [*tree.args, *(k.value for k in tree.keywords)]
    return all(_is_literal(ast.unparse(a)) for a in arguments)


def _is_literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return bool(text)


_CHECKER = """

def _collab_same(got, expected):
    if isinstance(expected, float) or isinstance(got, float):
        try:
            return abs(float(got) - float(expected)) <= 1e-6 * max(1.0, abs(float(expected)))
        except (TypeError, ValueError):
            return False
    if isinstance(got, tuple) and (list(got) == expected or got == (expected,)):
        return True  # docstrings write tuples as lists, and 1-tuples as their element
    return got == expected

_collab_failed = []
for _collab_call, _collab_expected in {examples!r}:
    try:
        _collab_got = eval(_collab_call)
        _collab_want = eval(_collab_expected)
    except Exception as _collab_error:
        _collab_failed.append(f"{{_collab_call}} raised {{type(_collab_error).__name__}}")
        continue
    if not _collab_same(_collab_got, _collab_want):
        _collab_failed.append(f"{{_collab_call}} gave {{_collab_got!r}}, not {{_collab_expected}}")
if _collab_failed:
    raise SystemExit("examples failed: " + "; ".join(_collab_failed))
"""


@dataclass(frozen=True)
class DocstringExamples(Verifier):
    """Runs a code draft against the examples in the docstring of the function it completes.

    The question must hold the function to complete in a fenced Python block (as HumanEval
    items are asked); the function checked is the last one defined there.
    """

    timeout_s: float = 5.0
    no_evidence: float = 0.5
    name = "docstring-examples"

    def check(self, question: str, draft: str) -> float | None:
        block = _PROMPT_BLOCK.search(question)
        source = block.group(1) if block else question
        names = _DEF.findall(source)
        if not names:
            return None
        entry_point = names[-1]
        examples = docstring_examples(source, entry_point)
        if not examples:
            return None
        code = extract_code(draft)
        pairs = [(e.call, e.expected) for e in examples]
        program = f"{source}\n    pass\n\n{code}\n" + _CHECKER.format(examples=pairs)
        return 1.0 if run_python(program, timeout_s=self.timeout_s).passed else 0.0


@dataclass(frozen=True)
class ToolCallShape(Verifier):
    """Checks that a drafted function call names an offered function with valid parameters.

    The question must hold the offered functions as JSON after a ``Functions (JSON):`` line
    (as BFCL items are asked). Passing means: exactly one call, of an offered function, with
    every required parameter, no unknown one, and literal values of the declared JSON types.
    It knows nothing of the right answer: it catches malformed and hallucinated calls.
    """

    no_evidence: float = 0.5
    name = "tool-call-shape"

    def check(self, question: str, draft: str) -> float | None:
        functions = _offered_functions(question)
        if functions is None:
            return None
        try:
            calls = parse_calls(draft)
        except (SyntaxError, ValueError):
            return 0.0
        if len(calls) != 1:
            return 0.0
        name, arguments = next(iter(calls[0].items()))
        spec = functions.get(name)
        if spec is None:
            return 0.0
        properties = spec.get("parameters", {}).get("properties", {})
        required = set(spec.get("parameters", {}).get("required", []))
        if not required <= set(arguments) or not set(arguments) <= set(properties):
            return 0.0
        ok = all(_fits(value, properties[key].get("type")) for key, value in arguments.items())
        return 1.0 if ok else 0.0


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "float": (int, float),
    "string": (str,),
    "boolean": (bool,),
    "array": (list, tuple),
    "tuple": (list, tuple),
    "dict": (dict,),
    "object": (dict,),
}


def _fits(value: object, declared: object) -> bool:
    if not isinstance(declared, str) or declared not in _JSON_TYPES:
        return True  # "any", unions, unknown names: nothing to check
    if isinstance(value, bool) and declared in {"integer", "number", "float"}:
        return False
    return isinstance(value, _JSON_TYPES[declared])


def _offered_functions(question: str) -> dict[str, dict[str, object]] | None:
    marker = "Functions (JSON):"
    start = question.find(marker)
    if start < 0:
        return None
    text = question[start + len(marker) :].lstrip()
    try:
        functions, _end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None
    if not isinstance(functions, list):
        return None
    return {str(f.get("name")): f for f in functions if isinstance(f, dict)}


_NUMBER = r"(-?\d[\d,]*(?:\.\d+)?)"
_ARITHMETIC = [
    (re.compile(rf"{_NUMBER}\s*(?:multiplied by|times|\*|×|x)\s*{_NUMBER}", re.I), "mul"),
    (re.compile(rf"{_NUMBER}\s*(?:divided by|/|÷)\s*{_NUMBER}", re.I), "div"),
    (re.compile(rf"{_NUMBER}\s*(?:plus|\+)\s*{_NUMBER}", re.I), "add"),
    (re.compile(rf"{_NUMBER}\s*(?:minus|-)\s*{_NUMBER}", re.I), "sub"),
    (re.compile(rf"{_NUMBER}\s*(?:%|percent)\s+of\s+{_NUMBER}", re.I), "pct"),
    (re.compile(rf"square root of\s+{_NUMBER}", re.I), "sqrt"),
]
_DRAFT_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class Arithmetic(Verifier):
    """Checks the number in a draft against a question's one arithmetic operation
    ("17 multiplied by 23", "25% of 640", "square root of 169", "144 / 12").

    It recomputes what the question asks and looks for that value among the draft's numbers
    other than the question's own operands; questions with no operation it knows, or with
    more than one, are not checked.
    """

    no_evidence: float = 0.5
    name = "arithmetic"

    def check(self, question: str, draft: str) -> float | None:
        found = [(m, op) for pattern, op in _ARITHMETIC for m in pattern.finditer(question)]
        if len(found) != 1:
            return None
        match, op = found[0]
        operands = [float(g.replace(",", "")) for g in match.groups()]
        value = _apply(op, operands)
        if value is None:
            return None
        numbers = [float(n.replace(",", "")) for n in _DRAFT_NUMBER.findall(draft)]
        answers = list(numbers)
        for operand in operands:  # the question echoed back
            if operand in answers:
                answers.remove(operand)
        ok = any(abs(n - value) <= 1e-6 * max(1.0, abs(value)) for n in answers or numbers)
        return 1.0 if ok else 0.0


def _apply(op: str, args: list[float]) -> float | None:
    if op == "sqrt":
        return args[0] ** 0.5 if args[0] >= 0 else None
    a, b = args
    if op == "div":
        return a / b if b else None
    results = {"mul": a * b, "add": a + b, "sub": a - b, "pct": a * b / 100}
    return results[op]


@dataclass(frozen=True)
class FirstVerdict:
    """The first of ``verifiers`` that has something to check decides; where none has,
    ``fallback`` (any judge: e.g. the SLM's own logits) does. A cascade judge."""

    verifiers: tuple[Verifier, ...]
    fallback: ProgramVerifier

    def __init__(self, *verifiers: Verifier, fallback: ProgramVerifier) -> None:
        object.__setattr__(self, "verifiers", verifiers)
        object.__setattr__(self, "fallback", fallback)

    def __call__(self, question: str, draft: str, judge_prompt: str = "") -> float:
        return self.verdict(question, draft, judge_prompt)[0]

    def verdict(self, question: str, draft: str, judge_prompt: str = "") -> tuple[float, str]:
        """The probability and the name of what decided it (a verifier's, or the fallback's
        ``name``)."""
        for verifier in self.verifiers:
            verdict = verifier.check(question, draft)
            if verdict is not None:
                return verdict, verifier.name
        name = str(getattr(self.fallback, "name", "fallback"))
        return self.fallback(question, draft, judge_prompt), name


def program_verifier(dataset: Dataset) -> ProgramVerifier | None:
    """The program verifier that fits ``dataset``'s metric: docstring examples for HumanEval,
    the call's shape for BFCL; ``None`` when none fits (free-text answers)."""
    if dataset.metric == "humaneval":
        return DocstringExamples()
    if dataset.metric == "bfcl":
        return ToolCallShape()
    return None
