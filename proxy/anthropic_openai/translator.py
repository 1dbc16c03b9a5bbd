"""One request's translation between Anthropic Messages (the client) and OpenAI Chat Completions (the upstream).

Made once per attempt, so the state a request carries (the client's model name, the input estimate, the
tool-name aliases, the stop sequences) lives here and not in the handler. Pure: no I/O.
"""

from __future__ import annotations

from ..routing import has_images
from .request import Target, translate_request
from .response import translate_response
from .stream import StreamTranslator


class AnthropicToOpenAI:
    def __init__(self, body: dict, target: Target, stream: bool, input_estimate: int = 0) -> None:
        self.client_model = body["model"]
        self.input_estimate = input_estimate
        self.refusal = None if target.info.vision is not False or not has_images(body) else (
            f"model {target.model} does not accept images; choose a vision model for this tier "
            "(see `orbridge models --vision`)")  # why this model cannot take the request, said as a 400
        self._translated = translate_request(body, target, stream, input_estimate)

    def request(self) -> dict:
        """The OpenAI body to send."""
        return self._translated.body

    def stream(self) -> StreamTranslator:
        """The state machine that turns this request's upstream chunks into Anthropic events."""
        t = self._translated
        return StreamTranslator(self.client_model, t.tool_names, t.stop_sequences, self.input_estimate)

    def message(self, completion: dict) -> dict:
        """A whole OpenAI completion as the Anthropic message."""
        t = self._translated
        return translate_response(completion, self.client_model, t.tool_names, t.stop_sequences,
                                  self.input_estimate)
