"""Unattended entry points for what happens between nightly runs: one person's check, HR and CloudTrail events."""
