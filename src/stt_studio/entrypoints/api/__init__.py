"""The OpenAI-compatible HTTP API and the server that hosts it beside the web UI."""
