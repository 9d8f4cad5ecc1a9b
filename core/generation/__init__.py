"""Story generation: one request type, several backends (a local model on transformers or on
CTranslate2 int8, any OpenAI-compatible chat API, an offline example-passage composer),
best-of-n selection."""
