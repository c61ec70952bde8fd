"""Models of the tax app."""
