"""HTTP routes: translate requests to service calls and outcomes to answers, nothing more."""
