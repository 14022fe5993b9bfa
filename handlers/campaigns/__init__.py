"""Campaigns: an offer to a saved segment's members, with a holdout group, and its results."""
