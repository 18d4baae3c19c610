"""The loopml server: the REST API over one Store (FastAPI).

``app.py`` builds the application (:func:`~loopml.server.app.create_app`); ``routes/`` holds
one router module per aggregate, listed in ``routes.ROUTERS``; ``errors.py`` turns every
failure into the JSON error body; ``responses.py`` and ``bodies.py`` are the JSON in and out.
Nothing here is imported by ``import loopml``.
"""
