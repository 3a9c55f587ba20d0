"""Built-in benchmarks, one module each (STYLE 7.8); registered in ``lemur.eval.plugin``."""
