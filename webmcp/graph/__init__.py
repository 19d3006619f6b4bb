"""The runtime graph: built from a Spec all-or-nothing, immutable once built, swapped by one assignment."""
