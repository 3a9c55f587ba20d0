"""SQL databases for environments and benchmarks: MySQL dumps converted to SQLite, and safe SQLite execution."""
