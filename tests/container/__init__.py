"""Tests that build on a real Docker engine and run the project's image (`make image-test`)."""
