"""Campaigns (营销活动): offers to a saved segment's members, delivered once each, measured
against a held-out group."""
