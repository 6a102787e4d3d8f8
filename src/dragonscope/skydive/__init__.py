"""Skydive's wire protocol: message envelope, publisher client."""
