"""Deployment manifests generated from a config (`webmcp deploy kubernetes`)."""
