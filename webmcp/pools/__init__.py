"""Connection pools declared under `pools:`, shared by the components that name them."""
