"""Code generation: class plans and the elaborated tree -> Python source."""
