"""The hit path: from a request for ``/t.gif`` (or ``POST /t``, ``/o/``, ``/c/``) to a
stored event record.

A hit passes through these modules, in order:

1. :mod:`.fastpath` answers ``GET /t.gif`` before Flask's request machinery (the views in
   :mod:`collector.web.views.tracking` and ``.email`` take the other routes);
2. :mod:`.facts` reads plain request facts from the WSGI environ;
3. :mod:`.pipeline` decides: consent in force (:mod:`collector.consent.rules`), why the
   hit is not counted if it is not (:class:`.pipeline.Drop`), which ids and cookies;
4. :mod:`.records` builds the record, scrubbed and allow-listed, with
   :mod:`.agents` classifying the User-Agent;
5. the event store (:mod:`collector.storage`) commits it before the answer is written.

Nothing here opens the identity store or reads ``cg_remember``.
"""
