"""A small built-in QA set: 20 short factual and arithmetic questions with one-word references.

Small enough that ``collab eval cascade`` finishes in about a minute on a laptop CPU, and
answerable in a few words, so the ``contains`` metric scores it fairly.
"""

from __future__ import annotations

from collab.evaluation.datasets import QA_INSTRUCTIONS, Dataset, Item

__all__ = ["QUESTIONS", "builtin_qa"]

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("What is the capital of France?", "Paris"),
    ("What is 17 multiplied by 23?", "391"),
    ("Which planet is the largest in the solar system?", "Jupiter"),
    ("Who wrote the novel Pride and Prejudice?", "Jane Austen"),
    ("What is the chemical symbol for gold?", "Au"),
    ("How many days are there in a leap year?", "366"),
    ("What is 12 plus 30?", "42"),
    ("What is the capital of Japan?", "Tokyo"),
    ("What is the boiling point of water at sea level in degrees Celsius?", "100"),
    ("Which ocean is the largest?", "Pacific"),
    ("What is 9 times 8?", "72"),
    ("Who painted the Mona Lisa?", "da Vinci"),
    ("Which gas do plants absorb from the air for photosynthesis?", "carbon dioxide"),
    ("What is the square root of 81?", "9"),
    ("What is the capital of Italy?", "Rome"),
    ("What is 100 minus 37?", "63"),
    ("What is the largest mammal on Earth?", "blue whale"),
    ("In which country are the pyramids of Giza?", "Egypt"),
    ("What is the freezing point of water in degrees Fahrenheit?", "32"),
    ("Which element has the chemical symbol O?", "oxygen"),
)


def builtin_qa() -> Dataset:
    """The 20 questions as a dataset scored with ``contains``."""
    items = tuple(
        Item(id=f"qa-{i:02d}", input=question, reference=reference)
        for i, (question, reference) in enumerate(QUESTIONS, start=1)
    )
    return Dataset(name="builtin-qa", items=items, instructions=QA_INSTRUCTIONS, max_tokens=32)
