"""Device authentication: API keys, the device registry, rate limiting."""
