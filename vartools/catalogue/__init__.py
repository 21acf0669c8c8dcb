"""Named problems and models: settings and reinforcement-learning environments."""
