"""Context: what an object is near (pure science, no SQL).

Catalogue cross-match from offline files (and archive adapters when enabled), host galaxy
from the reference image by the directional light radius, and the context class rules.
"""

__all__: list[str] = []
