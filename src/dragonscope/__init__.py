"""dragonscope: see a Dragonflow cloud's network as Dragonflow sees it."""

__version__ = "0.1.0"
