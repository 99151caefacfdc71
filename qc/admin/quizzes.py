"""Admin: placeholder until this area is built."""
