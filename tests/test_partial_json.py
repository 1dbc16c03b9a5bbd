import json

import pytest

from orbridge.proxy.anthropic_openai.partial_json import repair_suffix


@pytest.mark.parametrize("text", [
    '{"command": "ls', '{"command": "ls -la", "timeout": 12', '{"a": [1, 2', '{"a": {"b": "x\\', '{"a":',
    '{"a": 1,', '{"a": tr', '{"a": nul', '{"a": -', '{"a', '[1, 2,', '{"a": "b"}', '', '{"a": 1.',
])
def test_repair_makes_the_whole_parse(text):
    suffix = repair_suffix(text)
    assert suffix is not None
    if text:
        json.loads(text + suffix)
    if text == '{"a": "b"}':
        assert suffix == ""
