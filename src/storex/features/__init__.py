"""Item and user feature encoders, fitted on the training split and saved as JSON + arrays."""

from storex.features.items import ItemEncoder
from storex.features.users import UserEncoder

__all__ = ["ItemEncoder", "UserEncoder"]
