"""Persistence of metadata behind one :class:`~loopml.store.base.Store` protocol, chosen by URI scheme."""
