"""Live transcription: text while people speak (the page's Live tab, the realtime API, ``stt-studio live``).

- :mod:`agreement`: LocalAgreement-2, the words two successive decodes agree on (pure)
- :mod:`detector`: turns from Silero's speech probabilities, OpenAI's ``server_vad`` rules
- :mod:`schedule`: what to decode next, so the lag stays bounded (pure)
- :mod:`session`: one live session: audio in, typed events out
"""
