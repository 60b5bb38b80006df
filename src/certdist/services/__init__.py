"""Use cases. Each service receives its dependencies through its constructor."""
