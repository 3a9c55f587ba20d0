"""An example third-party Lemur plugin (see README.md)."""
