"""Bulk user upload for a contact-center account."""
