from aether import Aether
from aether.extensions.llm.fake import FakeProvider


async def test_fake_answers_canned_text() -> None:
    client = Aether(FakeProvider(canned_response="hello"))
    assert await client.ask("hi") == "hello"
