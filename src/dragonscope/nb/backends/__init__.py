"""Read-only NB DB backends. Each speaks one store; none ever writes to it."""
