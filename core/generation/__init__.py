"""Story generation: one request type, several backends (a local transformers model, any
OpenAI-compatible chat API, an offline example-passage composer), best-of-n selection."""
