"""What a site owner reads: aggregate queries with small-count suppression
(:mod:`.query`, :mod:`.export`), daily roll-ups (:mod:`.rollups`) and the retention
periods that decide when raw events give way to them (:mod:`.retention`)."""
