"""``simcse-serve``: a trained model behind a JSON API (OpenAI-shaped ``/v1/embeddings``, ``/similarity``,
``/search``, ``/info``, ``/health``) and a playground page at ``/``, on FastAPI + uvicorn.

- ``served_model.py``: what a MODEL argument names (export, run folder, checkpoint, ``untrained``) and its facts;
- ``prompts.py``: the query/document prompts a model offers;
- ``batcher.py``: concurrent requests encoded together;
- ``corpus.py``: the documents ``/search`` ranks;
- ``limits.py``: how much one request may ask for; ``body_limit.py``: the cap on a request's bytes;
- ``schemas.py``: the request and response bodies;
- ``errors.py``: every refusal as a 4xx with one line;
- ``app.py``: the routes; ``static/``: the page.

Floor 6: imports ``inference.py`` and below, never ``training/`` or ``cli/`` (``cli/serve.py`` starts it).
"""
