"""Who spoke when: speaker turns for a recording, offline, and their labels on the transcript.

The recording's speech (the VAD's spans, block by block) is heard in short
overlapping windows, each turned into a voice embedding (:mod:`.embedder`,
resemblyzer's GE2E encoder run in numpy, :mod:`.ge2e`); the windows are clustered into speakers
(:mod:`.clustering`), smoothed into turns (:mod:`.turns`), and the turns are
laid on the transcript's words and segments (:mod:`.assign`).
"""
