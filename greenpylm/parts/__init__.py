"""Layer 3, the parts: router, part bases, services, connections, `ServerTemplate`."""
