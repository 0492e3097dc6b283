"""RecordedModel: greedy calls happen once per request and replay with their usage."""

from __future__ import annotations

from pathlib import Path

from collab.models.recorded import RecordedModel
from collab.models.scripted import ScriptedModel
from collab.types import ToolCall


def numbered() -> ScriptedModel:
    """Each call answers with how many calls came before it, so a replay is visible."""
    model = ScriptedModel(lambda messages: f"answer {len(model.calls)} words here", name="m")
    return model


def test_a_repeated_greedy_call_is_replayed_with_its_usage(tmp_path: Path) -> None:
    inner = numbered()
    model = RecordedModel(inner, tmp_path / "calls.sqlite")
    first = model.complete("q", max_tokens=8)
    again = model.complete("q", max_tokens=8)
    assert again.text == first.text == "answer 1 words here"
    assert again.usage == first.usage and again.usage.completion_tokens == 4
    assert len(inner.calls) == 1 and model.replayed == 1


def test_any_difference_in_the_request_is_a_new_call(tmp_path: Path) -> None:
    inner = numbered()
    model = RecordedModel(inner, tmp_path / "calls.sqlite")
    model.complete("q", max_tokens=8)
    model.complete("q", max_tokens=9)
    model.complete("q", max_tokens=8, stop=["x"])
    model.complete([{"role": "system", "content": "s"}, {"role": "user", "content": "q"}])
    assert len(inner.calls) == 4 and model.replayed == 0


def test_tool_calls_are_replayed_per_tools_and_choice(tmp_path: Path) -> None:
    def area(base: int) -> int:
        return base

    def volume(side: int) -> int:
        return side

    inner = ScriptedModel(
        lambda _: [ToolCall(id=f"c{len(inner.calls)}", name="area", arguments={"base": 2})],
        name="m",
    )
    model = RecordedModel(inner, tmp_path / "calls.sqlite")
    first = model.complete("q", tools=[area], tool_choice="required")
    again = model.complete("q", tools=[area], tool_choice="required")
    assert again.tool_calls == first.tool_calls and again.tool_calls[0].id == "c1"
    model.complete("q", tools=[area], tool_choice="area")
    model.complete("q", tools=[area, volume], tool_choice="required")
    assert len(inner.calls) == 3 and model.replayed == 1


def test_sampled_calls_always_reach_the_model(tmp_path: Path) -> None:
    inner = numbered()
    model = RecordedModel(inner, tmp_path / "calls.sqlite")
    texts = {model.complete("q", temperature=0.7).text for _ in range(3)}
    assert len(texts) == 3 and len(inner.calls) == 3


def test_the_recording_outlives_the_process_that_made_it(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    with RecordedModel(numbered(), path) as first:
        made = first.complete("q", max_tokens=8)
    later_inner = numbered()
    later = RecordedModel(later_inner, path)
    assert later.complete("q", max_tokens=8).text == made.text
    assert later_inner.calls == []


def test_a_stream_replays_a_complete_call_and_only_a_finished_stream_is_recorded(
    tmp_path: Path,
) -> None:
    inner = numbered()
    model = RecordedModel(inner, tmp_path / "calls.sqlite")
    abandoned = model.stream("q", max_tokens=8)
    next(iter(abandoned))  # read one delta, then drop it
    stream = model.stream("q", max_tokens=8)
    text = "".join(stream)
    assert stream.completion is not None and stream.completion.text == text
    assert len(inner.calls) == 2
    assert model.complete("q", max_tokens=8).text == text  # the stream's call, replayed
    assert len(inner.calls) == 2


async def test_async_calls_share_the_recording(tmp_path: Path) -> None:
    inner = numbered()
    model = RecordedModel(inner, tmp_path / "calls.sqlite")
    made = await model.acomplete("q", max_tokens=8)
    assert model.complete("q", max_tokens=8).text == made.text
    parts = [delta async for delta in model.astream("q", max_tokens=8)]
    assert "".join(parts) == made.text and len(inner.calls) == 1


def test_scores_are_recorded(tmp_path: Path) -> None:
    seen: list[str] = []

    def scores(prompt: str, options: list[str]) -> list[float]:
        seen.append(prompt)
        return [0.25, 0.75]

    model = RecordedModel(ScriptedModel(["x"], scores=scores), tmp_path / "calls.sqlite")
    assert model.score("p", ["yes", "no"]) == [0.25, 0.75]
    assert model.score("p", ["yes", "no"]) == [0.25, 0.75]
    assert model.score("p", ["no", "yes"]) == [0.25, 0.75]
    assert seen == ["p", "p"]


def test_other_attributes_are_the_wrapped_models(tmp_path: Path) -> None:
    inner = numbered()
    model = RecordedModel(inner, tmp_path / "calls.sqlite")
    assert model.name == "m" and model.kind == inner.kind
    assert model.count_tokens("a b c") == 3
    assert model.calls is inner.calls


def test_a_metered_replay_is_charged_and_timed_as_the_recorded_call(tmp_path: Path) -> None:
    import time

    import collab

    def slow(_messages: object) -> str:
        time.sleep(0.2)
        return "slow answer"

    inner = ScriptedModel(slow, name="m", kind="remote", cost_per_token_usd=0.001)
    model = collab.metered(RecordedModel(inner, tmp_path / "calls.sqlite"))
    with collab.Run() as first:
        model.complete("q", max_tokens=8)
    with collab.Run() as again:
        started = time.perf_counter()
        model.complete("q", max_tokens=8)
        replay_s = time.perf_counter() - started
    made, replayed = first.ledger.records[0], again.ledger.records[0]
    assert replay_s < 0.1 and len(inner.calls) == 1
    assert replayed.cost_usd == made.cost_usd > 0
    assert replayed.latency_s >= 0.2  # the recorded call's time, not the replay's
