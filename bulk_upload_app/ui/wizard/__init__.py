"""The Bulk user upload wizard, one module per step: its State beside its components."""
