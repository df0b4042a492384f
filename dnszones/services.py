"""Writes of the dns app: keyword-only, typed `<entity>_<verb>` functions that own
their transaction, lock what they change and record an audit event."""
