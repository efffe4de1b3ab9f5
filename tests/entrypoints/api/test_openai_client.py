import time, httpx, openai
from openai import OpenAI
from tests.entrypoints.api.conftest import served, base_url  # noqa
from tests.support.longaudio import B_LONG

def test_x(session_studio, base_url, jfk, tiny_nemo):
    c = OpenAI(base_url=base_url, api_key="x")
    t=time.monotonic()
    canary = session_studio.load(str(tiny_nemo["canary"])).spec.name
    print("canary load", time.monotonic()-t, canary)
    try:
        r = c.audio.translations.create(file=open(jfk,"rb"), model=canary)
        print("translate", repr(r))
    except openai.APIError as e:
        print("ERR", e.status_code if hasattr(e,'status_code') else '', e.body)
    try:
        c.audio.translations.create(file=open(jfk,"rb"), model="tiny.en")
    except openai.APIError as e:
        print("ERR", e.status_code, e.body)
    t=time.monotonic()
    s = c.audio.transcriptions.create(file=open(B_LONG,"rb"), model="tiny.en", stream=True)
    for ev in s:
        print(round(time.monotonic()-t,2), type(ev).__name__, repr(ev)[:150])
