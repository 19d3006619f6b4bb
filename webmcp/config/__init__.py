"""Configuration: read, interpolate, parse with marks, merge layers, validate, produce a frozen Spec."""
