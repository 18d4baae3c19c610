"""The model registry: registered models, versions, stages, aliases, audit history and events.

``RegistryClient`` (``Client.registry``) is the explicit API; ``api`` holds the module-level
functions other parts call (``register_model``, ``resolve_model_uri``).
"""
