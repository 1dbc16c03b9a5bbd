"""One translator for the pair: Anthropic Messages API in, OpenAI Chat Completions out."""
