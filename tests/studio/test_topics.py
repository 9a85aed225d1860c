"""Topics and chapters: one JSON-mode call to the LLM (the OpenAI emulator), the answer checked
and repaired to YouTube's rules or refused, 429s retried, and the chapters as YouTube reads them."""

import json

import pytest

from studio import topics
from studio.topics import Chapter, Topics, TopicsError, chapters_text, extract_topics
from studio.transcription import Segment, Transcript
from tests.emulators.openai import OpenAIEmulator

SENTENCES = [
    "Welcome to the quarterly review of our shop",
    "Sales grew in every region this spring",
    "The linen dresses sold out twice",
    "Now let us talk about the new warehouse",
    "It opens in Kazan next month",
    "Shipping to the Urals gets two days faster",
    "Finally the plans for the autumn collection",
    "Wool coats and knitted scarves",
    "Thank you for watching and see you next time",
]


@pytest.fixture
def llm(settings):
    with OpenAIEmulator() as emulator:
        settings.OPENAI_API_KEY = emulator.api_key
        settings.OPENAI_BASE_URL = emulator.url + "/v1"
        settings.TRANSLATION_MAX_RETRIES = 0  # our retries, not the SDK's
        yield emulator


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(topics, "BACKOFF_SECONDS", 0.01)


def transcript(step_s: float = 7.0) -> list[dict]:
    return [{"start": n * step_s, "end": n * step_s + 5, "text": text} for n, text in enumerate(SENTENCES)]


def test_it_writes_topics_from_the_timed_transcript(llm):
    result = extract_topics(transcript(), language="en", duration_s=70)
    assert result.title == SENTENCES[0]
    assert result.topic == "Welcome to the"
    assert result.description == "\n".join(SENTENCES)
    # The emulator puts a chapter at every third line: 0, 21 and 42 s.
    assert result.chapters == [Chapter(0.0, SENTENCES[0]), Chapter(21.0, SENTENCES[3]), Chapter(42.0, SENTENCES[6])]
    (call,) = llm.completion_calls
    assert call.json["response_format"] == {"type": "json_object"}
    payload = llm.user_payload(call)
    assert payload["want"] == "topics" and payload["language"] == "en" and payload["duration"] == 70
    assert payload["transcript"].splitlines()[:2] == [f"[0:00] {SENTENCES[0]}", f"[0:07] {SENTENCES[1]}"]
    assert payload["sampled"] is False
    system = call.json["messages"][0]["content"]
    assert "English" in system and "chapters" in system
    assert result.as_json()["chapters"][1] == {"start": 21.0, "title": SENTENCES[3]}
    assert chapters_text(result.chapters) == f"0:00 {SENTENCES[0]}\n0:21 {SENTENCES[3]}\n0:42 {SENTENCES[6]}"


def test_it_takes_a_transcript_object_and_says_the_spoken_language(llm):
    lines = [Segment(n * 12.0, n * 12.0 + 4, f"Слово номер {n}") for n in range(6)]
    result = extract_topics(Transcript("ru", 75.0, lines), language="ru", duration_s=75)
    assert result.title == "Слово номер 0"
    assert [c.start for c in result.chapters] == [0.0, 36.0]
    assert "Russian" in llm.completion_calls[0].json["messages"][0]["content"]


def test_it_samples_a_transcript_too_long_for_the_prompt(llm):
    long = [{"start": n * 4.0, "end": n * 4.0 + 3, "text": f"Sentence {n} " + "words " * 12} for n in range(3000)]
    extract_topics(long, language="en", duration_s=12_000)
    payload = llm.user_payload(llm.completion_calls[0])
    assert payload["sampled"] is True
    lines = payload["transcript"].splitlines()
    assert len(payload["transcript"]) <= topics.TRANSCRIPT_BUDGET_CHARS
    assert lines[0].startswith("[0:00] Sentence 0 ") and lines[-1].startswith("[3:")  # past an hour: h:mm:ss
    assert len(lines) > 300  # evenly spread, not just the beginning
    assert "every" in llm.completion_calls[0].json["messages"][0]["content"]


def test_it_repairs_an_answer_outside_the_rules(llm):
    llm.reply_next(
        {
            "topic": "Shop review",
            "title": "A very long title " + "about the quarterly review of our shop " * 5,
            "description": "word " * 1200,
            "chapters": [
                {"start": 30, "title": "Warehouse <news>"},
                {"start": 5, "title": "Intro"},
                {"start": 35, "title": "Too close to the warehouse"},
                {"start": "1:00", "title": "Autumn"},
                {"start": 90, "title": "After the end"},
                {"start": 50, "title": "   "},
                {"start": "soon", "title": "No time"},
                {"start": 45, "title": "x" * 150},
            ],
        }
    )
    result = extract_topics(transcript(), language="en", duration_s=70)
    assert len(result.title) <= 100 and result.title.endswith("review of our shop") and "  " not in result.title
    assert len(result.description) <= 5000 and result.description.endswith("word")
    assert [(c.start, c.title) for c in result.chapters] == [
        (0.0, "Intro"),
        (30.0, "Warehouse ‹news›"),
        (45.0, "x" * 100),
        (60.0, "Autumn"),
    ]
    assert result.topic == "Shop review"
    assert len(llm.completion_calls) == 1


def test_it_asks_again_once_for_a_malformed_answer(llm):
    llm.reply_next("Sure! Here are your chapters: ...")
    result = extract_topics(transcript(), language="en", duration_s=70)
    assert result.title == SENTENCES[0]
    _, second = llm.completion_calls
    assert second.json["messages"][-2] == {"role": "assistant", "content": "Sure! Here are your chapters: ..."}
    assert "not JSON" in second.json["messages"][-1]["content"]


def test_it_refuses_an_answer_malformed_twice(llm):
    llm.reply_next({"title": "", "chapters": []}, {"title": "Fine", "chapters": "at the start"})
    with pytest.raises(TopicsError) as caught:
        extract_topics(transcript(), language="en", duration_s=70)
    assert not caught.value.retryable
    assert '"chapters" must be a list' in caught.value.message
    assert len(llm.completion_calls) == 2


def test_it_retries_a_rate_limited_llm(llm):
    llm.fail_next(429)
    assert extract_topics(transcript(), language="en", duration_s=70).title == SENTENCES[0]
    assert len(llm.completion_calls) == 2


def test_it_gives_up_retryable_when_the_llm_stays_unavailable(llm):
    llm.fail_next(500, times=4)
    with pytest.raises(TopicsError) as caught:
        extract_topics(transcript(), language="en", duration_s=70)
    assert caught.value.retryable and "still unavailable" in caught.value.message
    assert len(llm.completion_calls) == 1 + topics.RETRIES


def test_it_reports_a_refused_key_as_not_retryable(llm):
    llm.fail_next(401)
    with pytest.raises(TopicsError) as caught:
        extract_topics(transcript(), language="en", duration_s=70)
    assert not caught.value.retryable and "OPENAI_API_KEY" in caught.value.message


def test_it_needs_the_llm_and_a_transcript(settings):
    settings.OPENAI_API_KEY = ""
    with pytest.raises(TopicsError) as caught:
        extract_topics(transcript(), language="en", duration_s=70)
    assert "OPENAI_API_KEY" in caught.value.message
    with pytest.raises(TopicsError) as caught:
        extract_topics([{"start": 0, "end": 1, "text": "  "}], language="en", duration_s=70, complete=lambda m: "{}")
    assert "empty" in caught.value.message


def test_it_takes_any_completer():
    seen = []

    def complete(messages):
        seen.append(messages)
        return json.dumps({"topic": "t", "title": "Title", "description": "d", "chapters": []})

    assert extract_topics(transcript(), language="en", duration_s=70, complete=complete) == Topics("Title", "d", [], "t")
    assert json.loads(seen[0][1]["content"])["want"] == "topics"


def test_chapters_follow_youtubes_rules():
    assert chapters_text([Chapter(0, "Intro"), Chapter(20, "Middle")]) == ""  # fewer than three
    # Sorted; the first (5 s) moved to 0:00; 48 s is within 10 s of 40 s and merged into it.
    unordered = [Chapter(25, "Late intro"), Chapter(5, "Early"), Chapter(40, "Two"), Chapter(48, "Close")]
    assert chapters_text(unordered) == "0:00 Early\n0:25 Late intro\n0:40 Two"
    text = chapters_text([Chapter(0, "Start"), Chapter(600, "Ten minutes"), Chapter(3725, "An hour later")])
    assert text == "0:00 Start\n10:00 Ten minutes\n1:02:05 An hour later"
    assert chapters_text([Chapter(0, "A"), Chapter(9, "B"), Chapter(15, "C")]) == ""  # B merged: two remain
