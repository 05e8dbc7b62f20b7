"""The web side: Reflex pages and their States, the wizard laid out by step (ui/wizard/)."""
