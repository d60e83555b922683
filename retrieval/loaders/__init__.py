"""Source-format loaders. Each turns one file into blueprints; see ``registry``."""
