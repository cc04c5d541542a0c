"""The collector's Prometheus counters (DESIGN 3), kept by :class:`Metrics` while
``METRICS_TOKEN`` is set; :mod:`collector.web.metrics` serves them at ``/metrics``.

Labels are closed lists chosen by the collector: a drop reason, a store's name, a Flask
endpoint's name, a consent source. None holds a path, anything of a site's visitors, or an
address.

Under ``cleargif serve`` every worker counts on its own; ``serve`` gives them one folder
(``PROMETHEUS_MULTIPROC_DIR``) where prometheus_client keeps their counts, and whichever
worker answers ``/metrics`` adds them up.
"""

from __future__ import annotations

import os

#: Seconds a store commit may take, as the histogram's buckets (a commit on SQLite takes
#: tens of microseconds; seconds mean a disk in trouble).
COMMIT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                  0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Where prometheus_client's multiprocess mode keeps the workers' counts.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

class Metrics:
    """The collector's counters and histogram, in a registry of their own (so that several
    apps in one process, as in tests, never clash)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.hits = Counter("cleargif_hits_counted", "Page hits (/t.gif, /t) stored as events.",
                            registry=self.registry)
        self.dropped = Counter("cleargif_hits_dropped", "Hits answered but not counted, by "
                               "reason.", ["reason"], registry=self.registry)
        self.commit = Histogram("cleargif_store_commit_seconds", "Time to commit one write, "
                                "by store.", ["store"], buckets=COMMIT_BUCKETS,
                                registry=self.registry)
        self.errors = Counter("cleargif_http_5xx", "Answers with a 5xx status, by route "
                              "(the endpoint's name, never its path).", ["route"],
                              registry=self.registry)
        self.decisions = Counter("cleargif_consent_decisions", "Consent decisions recorded, "
                                 "by source.", ["source"], registry=self.registry)

    def exposition(self) -> bytes:
        """Every worker's counts (multiprocess mode) or this process's, as text."""
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess

        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
