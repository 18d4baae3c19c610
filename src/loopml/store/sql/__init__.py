"""The one SQL implementation of the Store (SQLAlchemy Core) for sqlite:// and postgresql://."""
