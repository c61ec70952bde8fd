"""Models of the strategies app."""
